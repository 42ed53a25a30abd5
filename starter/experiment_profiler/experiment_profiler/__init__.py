"""experiment_profiler: run Anthropic prompt experiments from YAML manifests and profile them."""

__version__ = "0.1.0"

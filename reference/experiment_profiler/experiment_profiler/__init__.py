"""experiment_profiler: run Anthropic prompt experiments from YAML manifests and profile them."""

__version__ = "1.0.0"

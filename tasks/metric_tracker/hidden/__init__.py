"""Trusted ground truth of the metric_tracker task: the dataset generator, the analysis that
prompt.md specifies, and the grader of anomaly reports. Never copied to the sandbox."""

from .analysis import Analysis
from .generator import NAMED_SCENARIOS, generate_dataset, generate_scenario, scenario_config
from .grader import grade_rows

__all__ = ["NAMED_SCENARIOS", "Analysis", "generate_dataset", "generate_scenario", "grade_rows", "scenario_config"]

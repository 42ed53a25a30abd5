"""The seed's scripted baseline for metric_tracker: the full analysis surface (a copy of the
reference's investigator.py) and a detector that submits one generator's rows per named task."""

from .detector import detect_anomalies
from .investigator import CONVERSION_METRICS, EVENTS, FUNNEL_STEPS, Investigator

__all__ = ["CONVERSION_METRICS", "EVENTS", "FUNNEL_STEPS", "Investigator", "detect_anomalies"]

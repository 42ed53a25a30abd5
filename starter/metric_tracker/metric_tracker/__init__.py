"""Investigate synthetic product-funnel metrics and report their anomalies."""

from .detector import detect_anomalies
from .investigator import CONVERSION_METRICS, EVENTS, FUNNEL_STEPS, Investigator

__all__ = ["CONVERSION_METRICS", "EVENTS", "FUNNEL_STEPS", "Investigator", "detect_anomalies"]

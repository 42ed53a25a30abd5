"""Modular evaluators: each asks the judge for a structured verdict on one conversation."""

from .aggregate import aggregate
from .base import Evaluator, build_evaluators, render_transcript

__all__ = ["Evaluator", "aggregate", "build_evaluators", "render_transcript"]

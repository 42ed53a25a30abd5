"""Modular evaluators: each asks the judge for a structured verdict on one conversation."""

from .base import Evaluator, build_evaluators, render_transcript
from .aggregate import aggregate

__all__ = ["Evaluator", "aggregate", "build_evaluators", "render_transcript"]

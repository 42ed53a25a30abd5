"""Modular evaluators: each asks the judge for a structured verdict on one conversation."""

from .base import Evaluator, build_evaluators

__all__ = ["Evaluator", "build_evaluators"]

"""Synthetic data: scenario contexts and persona conversations."""

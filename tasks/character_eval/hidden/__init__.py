"""Trusted ground truth of the character_eval task (never copied into the sandbox)."""

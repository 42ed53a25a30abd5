"""pytest-rlgrade: grade submissions to coding tasks with pytest and turn the result into a reward.

Run ``pytest --submission=starter|reference|PATH [--task NAME]``; see the README.
"""

from .client import CliResult, Handle, Submission
from .errors import (
    ManifestError,
    SandboxUnavailable,
    SubmissionCrashed,
    SubmissionFault,
    SubmissionMemoryError,
    SubmissionProtocolError,
    SubmissionRaised,
    SubmissionTimeout,
    TaskError,
)
from .trusted import load_trusted

__all__ = [
    "CliResult",
    "Handle",
    "ManifestError",
    "SandboxUnavailable",
    "Submission",
    "SubmissionCrashed",
    "SubmissionFault",
    "SubmissionMemoryError",
    "SubmissionProtocolError",
    "SubmissionRaised",
    "SubmissionTimeout",
    "TaskError",
    "load_trusted",
]

"""Errors that end a command with a one-line message and a documented exit code (never a traceback)."""

from __future__ import annotations

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_NOTHING_FITS = 3
EXIT_PROBE_FAILED = 4


class BatchfitError(Exception):
    """Base: the message is one line that names the problem and the fix."""

    exit_code = 1


class BadInput(BatchfitError):
    """The user's input is wrong: an unknown preset, a non-positive budget, a malformed file."""

    exit_code = EXIT_BAD_INPUT


class ProbeFailed(BatchfitError):
    """The probe could not measure anything usable (even batch 1 failed, the model raised)."""

    exit_code = EXIT_PROBE_FAILED


class NothingFits(BatchfitError):
    """No candidate meets the budget or the deadline; the message says which limit and by how much."""

    exit_code = EXIT_NOTHING_FITS


EXIT_INTERNAL = 1
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM


class Interrupted(BatchfitError):
    """Ctrl-C or SIGTERM: what was measured is saved; the message says where and how to go on."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self, message: str, exit_code: int = EXIT_INTERRUPTED):
        super().__init__(message)
        self.exit_code = exit_code

"""Errors that reach the user as one line: what is wrong, where, and what to do."""

from __future__ import annotations

from pathlib import Path


class CallassistError(Exception):
    """A problem with the user's input or environment, shown as a single line (no traceback).

    `exit_status` is what the command-line tool exits with.
    """

    exit_status = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputFileError(CallassistError):
    """A file given on the command line is missing, unreadable or malformed."""

    @classmethod
    def at(cls, path: Path | str, problem: str, line: int | None = None) -> "InputFileError":
        where = f"{path}:{line}" if line is not None else f"{path}"
        return cls(f"{where}: {problem}")


class ConfigError(CallassistError):
    """A configuration or script-pack file has a problem."""

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

    @classmethod
    def decode_utf8(cls, path: Path, raw: bytes, advice: str) -> str:
        """`raw` as text (a UTF-8 BOM allowed); otherwise an error naming the line of the first
        bad byte, with `advice` on what to do."""
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            line = raw[: error.start].count(b"\n") + 1
            raise cls.at(path, advice, line) from None


class ConfigError(CallassistError):
    """A configuration or script-pack file has a problem."""

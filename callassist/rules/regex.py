"""Linear-time regular expressions (RE2) for rules: a pattern from a pack can never make
matching take time exponential in the text, whatever a QA lead writes. Compiled by the pack's
own helper (`scriptpack.compile_pattern`), so rules and cues accept the same syntax."""

from __future__ import annotations

from functools import lru_cache
from typing import Any


class PatternError(ValueError):
    """A pattern RE2 cannot compile (RE2 has no backreferences or lookaround)."""


@lru_cache(maxsize=None)
def compile_linear(pattern: str) -> Any:
    """The compiled pattern; raises PatternError with RE2's reason."""
    import re2

    from callassist.scriptpack import compile_pattern  # the pack module imports rules: no cycle at load

    try:
        return compile_pattern(pattern)
    except re2.error as error:
        reason = error.args[0] if error.args else error
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternError(str(reason)) from None

"""Recognised text as the detectors see it: prepared once for matching, with phrase timing."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from callassist.matching import PhraseHit, PreparedText, prepare
from callassist.inputs import Utterance


@dataclass
class HeardText:
    """One utterance's text (final or partial), shared by all detectors for one input.

    When the utterance has word timings, the text matched is the words joined (Vosk puts spaces
    between Chinese words; they are dropped), so a hit's characters map to words and so to time.
    Without words, time is interpolated over the characters of the utterance.
    """

    utterance: Utterance
    final: bool = True
    key: str = ""
    _word_of_char: list[int] = field(default_factory=list, init=False, repr=False)

    @cached_property
    def text(self) -> str:
        if not self.utterance.words:
            return self.utterance.text
        pieces = []
        for index, word in enumerate(self.utterance.words):
            pieces.append(word.word)
            self._word_of_char.extend([index] * len(word.word))
        return "".join(pieces)

    @cached_property
    def prepared(self) -> PreparedText:
        return prepare(self.text)

    @property
    def speaker(self) -> str:
        return self.utterance.speaker

    def span_times(self, hit: PhraseHit) -> tuple[float, float]:
        """Call times at which the matched phrase starts and ends."""
        text = self.text  # also fills _word_of_char
        words = self.utterance.words
        if words and self._word_of_char:
            first = words[self._word_of_char[min(hit.start, len(text) - 1)]]
            last = words[self._word_of_char[max(min(hit.end, len(text)) - 1, 0)]]
            return first.start, last.end
        start, end = self.utterance.start, self.utterance.end
        length = max(len(text), 1)
        return (
            start + (end - start) * hit.start / length,
            start + (end - start) * hit.end / length,
        )

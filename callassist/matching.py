"""Fuzzy matching of script phrases in speech-recognition output.

Vosk's Chinese model writes homophones for one another (为/喂, 在/再), adds or drops sentence
particles and puts spaces between words. Both sides are therefore reduced to tone-less pinyin
syllables, each syllable mapped to one private-use character, so that rapidfuzz compares
syllables rather than characters and a homophone error costs nothing.

A text is prepared once per utterance (`prepare`) and then matched against many phrases; the
phrase side is cached. Every token remembers the offset of the original character it came
from, so a hit reports the span of the original text that was heard.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import count
from typing import TYPE_CHECKING


if TYPE_CHECKING:
    import numpy as np

DEFAULT_THRESHOLD = 80.0
# Phrases of at most this many syllables (after particles are dropped) hit only on an exact
# syllable match when no threshold is given: one wrong syllable in 不清楚 or 我不知道 changes
# the meaning (我知道 scores 86 against 我不知道).
SHORT_PHRASE_SYLLABLES = 4

# Sentence particles, fillers and the erhua 儿: the recogniser adds and drops them freely,
# so they are removed from both sides. Removal is by character (了 in 了解 goes too), which is
# harmless because both sides lose the same characters.
_PARTICLES = frozenset("啊呀吧呢嘛吗啦了哦喔噢哈呗哟呦哇咯嘞呐嗯呃儿")
# Stripped from the end of a phrase only (with any particles after it): a modal 的 (不可能的)
# is often not said, and when it is, the text still contains the rest of the phrase.
_PHRASE_FINAL = "的" + "".join(_PARTICLES)
# Readings that replace pypinyin's single-character default: 地 as the adverbial particle
# (爱咋咋地) is said "de", and the recogniser writes it as 的 or 得.
_READINGS = {"地": "de"}

# Folds applied to every syllable: retroflex/flat initials zh/z, ch/c, sh/s and the nasal
# finals -ing/-in, -eng/-en, which southern speakers and the recogniser mix up. Measured on
# a table of paraphrases and unrelated call-centre lines, these recover accented short phrases
# (我不资道, 不亲粗) without new false hits; an/ang and l/n recovered nothing, and folding
# 您 onto 你 only added false hits (您说什么我没听清楚 as 你说什么), so they are not folded.
_INITIAL_FOLD = {"zh": "z", "ch": "c", "sh": "s"}
_FINAL_FOLD = {"ing": "in", "eng": "en"}

# Before rescoring, candidates must reach `threshold - _PREFILTER_SLACK` on rapidfuzz's
# fixed-width window; the rescore on the exact heard span can raise a score by about this much
# when a phrase is interrupted by one or two extra syllables.
_PREFILTER_SLACK = 20.0
# A template segment scoring below this is treated as not said: it does not consume text, so
# the following segments are still searched from where the previous one ended.
_SEGMENT_FLOOR = 50.0

_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_PUA_BASE = 0xE000
_symbols: dict[str, str] = {}
_next_symbol = count(_PUA_BASE)


@dataclass(frozen=True)
class PreparedText:
    """A text reduced to one token character per syllable (or per non-Han letter/digit)."""

    text: str  # the original text
    tokens: str  # one char per syllable/token after normalisation
    # offsets[i] = start char in `text` of token i; offsets[-1] = len(text) as an end sentinel.
    # Every token comes from exactly one original character, so token i ends at offsets[i] + 1.
    offsets: tuple[int, ...]

    def span(self, first: int, last: int) -> tuple[int, int]:
        """Original-text character span of tokens first..last-1."""
        return self.offsets[first], self.offsets[last - 1] + 1


@dataclass(frozen=True)
class PhraseHit:
    """Where a phrase was found in a text, and how well it matched."""

    phrase: str
    score: float  # 0-100
    start: int  # char offset in the original text, inclusive
    end: int  # exclusive
    heard: str  # text[start:end]


def _is_han(ch: str) -> bool:
    """CJK Unified Ideographs, including extension A and the supplementary-plane extensions."""
    cp = ord(ch)
    return 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x323AF


def _is_kept(ch: str) -> bool:
    """Letters and digits survive normalisation; punctuation, symbols and spaces do not."""
    return unicodedata.category(ch)[0] in "LN"


def normalise(text: str) -> str:
    """Width-folded (NFKC) text without punctuation or whitespace; particles are kept."""
    return "".join(ch for ch in unicodedata.normalize("NFKC", text) if _is_kept(ch))


def han_count(text: str) -> int:
    """Number of Han characters, for speech-rate checks."""
    return sum(1 for ch in text if _is_han(ch))


def _fold(syllable: str) -> str:
    initial = _INITIAL_FOLD.get(syllable[:2])
    if initial:
        syllable = initial + syllable[2:]
    final = _FINAL_FOLD.get(syllable[-3:])
    if final:
        syllable = syllable[:-3] + final
    return syllable


def _symbol(syllable: str) -> str:
    """The private-use character standing for a (folded) syllable."""
    syllable = _fold(syllable)
    symbol = _symbols.get(syllable)
    if symbol is None:
        symbol = _symbols.setdefault(syllable, chr(next(_next_symbol)))
    return symbol


@lru_cache(maxsize=None)
def _char_tokens(ch: str) -> str:
    """Tokens for one original character: usually one, none for punctuation and particles,
    several when NFKC expands it (㎏ -> kg)."""
    # Imported on first use: pypinyin's dictionaries take 0.2 s and 40 MiB to load, which a
    # call without recognised text (replay --asr none, --help) never needs.
    from pypinyin import Style, lazy_pinyin

    out = []
    for c in unicodedata.normalize("NFKC", ch):
        if c in _PARTICLES:
            continue
        if _is_han(c):
            # Per character, so a heteronym always gets its default reading on both sides.
            syllable = _READINGS.get(c) or lazy_pinyin(c, style=Style.NORMAL)[0]
            out.append(c if syllable == c else _symbol(syllable))
        elif _is_kept(c):
            out.append(c.lower())
    return "".join(out)


def prepare(text: str) -> PreparedText:
    """Tokenise an utterance once so that it can be matched against many phrases."""
    tokens: list[str] = []
    offsets: list[int] = []
    for i, ch in enumerate(text):
        tok = _char_tokens(ch)
        if tok:
            tokens.append(tok)
            offsets.extend([i] * len(tok))
    offsets.append(len(text))
    return PreparedText(text, "".join(tokens), tuple(offsets))


@lru_cache(maxsize=4096)
def _phrase_tokens(phrase: str) -> str:
    return prepare(normalise(phrase).rstrip(_PHRASE_FINAL)).tokens


@lru_cache(maxsize=1024)
def _template_segments(template: str) -> tuple[str, ...]:
    """Token strings of the literal parts of a template, empty parts left out."""
    parts = (_phrase_tokens(part) for part in _PLACEHOLDER.split(template))
    return tuple(part for part in parts if part)


def _rescore(needle: str, hay: str, lo: int, hi: int) -> tuple[float, int, int]:
    """Best Indel similarity of `needle` to a substring of hay[lo:hi] that starts and ends on
    matched tokens, with that substring's bounds.

    rapidfuzz's partial ratio compares a window exactly as wide as the phrase, which
    under-scores a phrase interrupted by an extra syllable and pads the span with neighbours.
    """
    from rapidfuzz.distance import Indel  # imported when text is first matched: an acoustic-only run never is

    blocks = [b for b in Indel.opcodes(needle, hay[lo:hi]).as_matching_blocks() if b.size]
    best = (0.0, lo, lo)
    for i, first in enumerate(blocks):
        matched = 0
        for last in blocks[i:]:
            matched += last.size
            start, end = lo + first.b, lo + last.b + last.size
            score = 200.0 * matched / (len(needle) + end - start)
            if score > best[0]:
                best = (score, start, end)
    return best


def _align(needle: str, hay: str, cutoff: float) -> tuple[float, int, int] | None:
    """Best (score, start, end) of `needle` in `hay`, in token indices, or None below cutoff."""
    if not needle or not hay:
        return None
    if cutoff >= 100.0:
        at = hay.find(needle)
        return None if at < 0 else (100.0, at, at + len(needle))
    if len(hay) <= len(needle):
        found = _rescore(needle, hay, 0, len(hay))
    else:
        from rapidfuzz import fuzz  # imported when text is first matched (see _rescore)

        window = fuzz.partial_ratio_alignment(
            needle, hay, score_cutoff=max(0.0, cutoff - _PREFILTER_SLACK)
        )
        if window is None:
            return None
        # Rescore the window itself and, for a phrase interrupted by extra syllables, the
        # window widened by the phrase length on each side. The wider alignment alone can pair
        # a repeated syllable with a distant copy, so the better of the two is kept.
        wide_lo = max(0, window.dest_start - len(needle))
        wide_hi = min(len(hay), window.dest_end + len(needle))
        found = max(
            _rescore(needle, hay, window.dest_start, window.dest_end),
            _rescore(needle, hay, wide_lo, wide_hi),
            key=lambda candidate: candidate[0],
        )
    # An empty span means nothing matched at all, which is no hit even at threshold 0.
    return found if found[2] > found[1] and found[0] >= cutoff else None


@dataclass(frozen=True, eq=False)
class PhraseSet:
    """Many phrases indexed by token, so that a text is aligned only against the phrases that
    could reach their threshold in it (`PhraseMatcher.find_all`): the cost of matching grows
    with those candidates, not with the number of phrases.

    The bound: a hit's score is 200 * matched / (phrase tokens + span), with matched <= span,
    so it cannot exceed 200 * m / (n + m), where m is how many of the phrase's n tokens the
    text holds (counted with repeats). A phrase whose bound is below its cutoff is skipped
    without changing any result.

    m is counted for every phrase at once: `counts` holds how often each token occurs in each
    phrase (a token is a syllable, so there are a few hundred rows however many phrases there
    are), and a text's m per phrase is the column sum of those rows capped at how often the
    text holds each token. A Python loop over the index's entries cost 0.3 ms per utterance
    with 1,000 phrases; this costs about a tenth of that.
    """

    phrases: tuple[str, ...]
    cutoffs: tuple[float, ...]
    rows: dict[str, int]  # token -> its row in `counts`
    counts: "np.ndarray"  # (tokens, phrases): times the token occurs in the phrase
    # Per phrase, the fewest shared tokens with which its bound reaches its cutoff (the bound
    # as the float expression above, so the candidates are exactly those it admits); a phrase
    # that cannot reach it has more than its length.
    least: "np.ndarray"

    def candidates(self, tokens: str) -> list[int]:
        """Indices of the phrases that may reach their cutoff in `tokens`, in order."""
        rows, have = [], []
        for token, times in Counter(tokens).items():
            row = self.rows.get(token)
            if row is not None:
                rows.append(row)
                have.append(times)
        if not rows:
            return []
        import numpy as np

        shared = np.minimum(self.counts[rows], np.array(have)[:, None])  # per syllable: min(text, phrase)
        return np.nonzero(np.add.reduce(shared, axis=0) >= self.least)[0].tolist()


def _fewest_shared(length: int, cutoff: float) -> int:
    """The smallest m >= 1 with 200 * m / (length + m) >= cutoff; length + 1 when there is none."""
    return next((m for m in range(1, length + 1) if 200.0 * m / (length + m) >= cutoff), length + 1)


@lru_cache(maxsize=64)
def _indexed(phrases: tuple[str, ...], cutoffs: tuple[float, ...]) -> PhraseSet:
    """The index of a phrase list, built once per process for each list: every call of a
    pack, and every engine of a batch worker, shares its rule's phrase sets."""
    import numpy as np  # imported on first use, as pypinyin is: a call without text needs neither

    needles = [Counter(_phrase_tokens(phrase)) for phrase in phrases]
    rows: dict[str, int] = {}
    for needle in needles:
        for token in needle:
            rows.setdefault(token, len(rows))
    most = max((times for needle in needles for times in needle.values()), default=0)
    counts = np.zeros((len(rows), len(phrases)), dtype=np.min_scalar_type(most))
    for index, needle in enumerate(needles):
        for token, times in needle.items():
            counts[rows[token], index] = times
    least = np.array(
        [_fewest_shared(sum(n.values()), cutoff) for n, cutoff in zip(needles, cutoffs)], dtype=np.int64
    )
    counts.setflags(write=False)
    least.setflags(write=False)
    return PhraseSet(phrases, cutoffs, rows, counts, least)


def _hit(prepared: PreparedText, phrase: str, score: float, first: int, last: int) -> PhraseHit:
    start, end = prepared.span(first, last)
    return PhraseHit(phrase, score, start, end, prepared.text[start:end])


class PhraseMatcher:
    """Finds script phrases in recognised text, tolerant of homophones and particles."""

    def __init__(self, default_threshold: float = DEFAULT_THRESHOLD) -> None:
        self.default_threshold = default_threshold

    def _threshold(self, syllables: int, threshold: float | None) -> float:
        """An explicit threshold applies as given; by default short phrases must match exactly."""
        if threshold is not None:
            return threshold
        return 100.0 if syllables <= SHORT_PHRASE_SYLLABLES else self.default_threshold

    def find(
        self, text: PreparedText | str, phrase: str, threshold: float | None = None
    ) -> PhraseHit | None:
        """Best hit of `phrase` in `text`, or None when it scores below the threshold."""
        prepared = prepare(text) if isinstance(text, str) else text
        needle = _phrase_tokens(phrase)
        found = _align(needle, prepared.tokens, self._threshold(len(needle), threshold))
        if found is None:
            return None
        score, first, last = found
        return _hit(prepared, phrase, score, first, last)

    def phrase_set(self, phrases: Sequence[tuple[str, float | None]]) -> PhraseSet:
        """Index (phrase, threshold) pairs for `find_all` (built once per list and process)."""
        texts = tuple(phrase for phrase, _ in phrases)
        cutoffs = tuple(self._threshold(len(_phrase_tokens(p)), t) for p, t in phrases)
        return _indexed(texts, cutoffs)

    def find_all(self, text: PreparedText | str, phrases: PhraseSet) -> list[tuple[int, PhraseHit]]:
        """(index in the set, hit) for every phrase of the set found in `text`: the same hits
        as `find` on each phrase, computed only for the candidates the index leaves."""
        prepared = prepare(text) if isinstance(text, str) else text
        found = []
        for index in phrases.candidates(prepared.tokens):
            phrase = phrases.phrases[index]
            aligned = _align(_phrase_tokens(phrase), prepared.tokens, phrases.cutoffs[index])
            if aligned is not None:
                found.append((index, _hit(prepared, phrase, *aligned)))
        return found

    def find_template(
        self, text: PreparedText | str, template: str, threshold: float | None = None
    ) -> PhraseHit | None:
        """Like `find`, but {placeholders} in the template match anything, including nothing.

        The literal segments are matched in order, each after the previous one; the score is
        their length-weighted mean, the span runs from the first found segment to the last.
        """
        prepared = prepare(text) if isinstance(text, str) else text
        segments = _template_segments(template)
        total = sum(map(len, segments))
        cutoff = self._threshold(total, threshold)
        hay = prepared.tokens
        pos, weighted = 0, 0.0
        spans: list[tuple[int, int]] = []
        for segment in segments:
            found = _align(segment, hay[pos:], _SEGMENT_FLOOR)
            if found is None:
                continue
            score, start, end = found
            weighted += score * len(segment)
            spans.append((pos + start, pos + end))
            pos += end
        if not spans or weighted / total < cutoff:
            return None
        return _hit(prepared, template, weighted / total, spans[0][0], spans[-1][1])

    def best(
        self, text: PreparedText | str, phrases: Iterable[str], threshold: float | None = None
    ) -> PhraseHit | None:
        """Best-scoring hit among `phrases`; on a tie the phrase with more syllables wins."""
        prepared = prepare(text) if isinstance(text, str) else text
        hits = (self.find(prepared, phrase, threshold) for phrase in phrases)
        return max(
            (hit for hit in hits if hit is not None),
            key=lambda hit: (hit.score, len(_phrase_tokens(hit.phrase))),
            default=None,
        )

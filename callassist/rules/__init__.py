"""QA rules as data: `[[rule]]` and `[[phrase_set]]` tables in script packs.

`model` holds the typed rule, `parse` reads pack tables into it, `regex` compiles linear-time
patterns, `conditions` judges a condition on one utterance, `cases` runs `callassist rules
test`. The stateful evaluation in stream time is `callassist.detectors.rules.RulesDetector`.
The standard pack's own lexical checks are rules too (`scripts_zh/rules.toml`).
"""

from callassist.rules.model import ON_HOLD, Condition, Context, Phrase, Rule, RuleKind

__all__ = ["ON_HOLD", "Condition", "Context", "Phrase", "Rule", "RuleKind"]

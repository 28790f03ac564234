"""What the model sees at one step, bounded so the prompt never grows with
the story: the outline, the short-term memory, the previous paragraph, the
k long-term passages most relevant to the plan, and the plan."""

from __future__ import annotations

from dataclasses import dataclass, field

from recurrentgpt.backends.base import ChatMessage
from recurrentgpt.prompts import count_tokens

MAX_OUTLINE_CHARS = 6000
MAX_SHORT_TERM_CHARS = 3000
MAX_PREVIOUS_CHARS = 3000
MAX_PASSAGE_CHARS = 1500
MAX_PLAN_CHARS = 2000


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters at a word boundary, marked with an ellipsis."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0] if " " in text[: limit] else text[:limit]
    return cut.rstrip() + " …"


def retrieval_queries(plan: str, short_term: str) -> list[str]:
    """What to look up in the long-term memory for a plan: the plan alone
    (what the original RecurrentGPT uses).

    `short_term` is deliberately not part of the query. A query of the plan
    with the short-term memory matches best the recent paragraphs that the
    short-term memory summarises (and that are in the prompt through it), and
    those push the older passage the plan asks for out of the top k: on
    planted facts in Pride and Prejudice (bench/recall.py) recall@3 fell from
    that of the plan alone to a fraction of it. The parameter stays so callers
    need not change.
    """
    return [plan]


@dataclass
class StepContext:
    messages: list[ChatMessage]
    plan: str
    retrieved: list[tuple[int, float]] = field(default_factory=list)
    bible: list[dict] = field(default_factory=list)  # the story-bible entries used (recurrentgpt/bible.py)

    @property
    def prompt_text(self) -> str:
        return "\n\n".join(m.content for m in self.messages)

    @property
    def tokens(self) -> int:
        return count_tokens(self.prompt_text)

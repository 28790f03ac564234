"""The story bible: which entries join a step's prompt, and the model's
proposals for new entries (import and export: recurrentgpt.world_info).

Selection, per step, in rank order (the lowest rank is dropped first when the
token budget runs out, so the prompt stays bounded however large the bible):

1. entries marked `Always: yes`;
2. entries a key of which appears in the plan;
3. ... in the previous paragraph;
4. ... in the short-term memory;
5. entries semantically close to the plan (cosine similarity of their
   embedding to the plan's above a threshold; at most a few).

Within a rank, higher `Priority` first, then closer to the plan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from memory.bible import BibleEntry, BibleFolder, EntryVectors, entry_name_for, key_pattern
from recurrentgpt.backends.base import ChatMessage
from recurrentgpt.prompts import count_tokens

if TYPE_CHECKING:
    from recurrentgpt.backends.base import Backend

REASONS = ("always", "plan", "recent", "memory", "similar")
MAX_SCAN_CHARS = 6000  # of each text scanned for keys (all of them are bounded already)


@dataclass
class Chosen:
    entry: BibleEntry
    reason: str
    key: str = ""
    score: float = 0.0
    text: str = ""  # as it goes into the prompt
    tokens: int = 0

    def record(self) -> dict:
        return {"name": self.entry.name, "reason": self.reason, "key": self.key, "score": round(self.score, 4),
                "tokens": self.tokens}


@dataclass
class BibleSelection:
    chosen: list[Chosen] = field(default_factory=list)
    dropped: list[Chosen] = field(default_factory=list)  # matched, but over the token budget
    budget: int = 0

    @property
    def text(self) -> str:
        return "\n".join(c.text for c in self.chosen)

    @property
    def tokens(self) -> int:
        return sum(c.tokens for c in self.chosen)

    @property
    def names(self) -> list[str]:
        return [c.entry.name for c in self.chosen]

    def record(self) -> list[dict]:
        return [c.record() for c in self.chosen]


@lru_cache(maxsize=8192)
def _pattern(key: str) -> re.Pattern:
    return key_pattern(key)


def _first_key(keys: list[str], text: str) -> str | None:
    for key in keys:
        if text and _pattern(key).search(text):
            return key
    return None


def _secondary_ok(entry: BibleEntry, text: str) -> bool:
    """World Info's optional filter: the secondary keys with their logic."""
    if not entry.secondary:
        return True
    hits = [bool(_pattern(k).search(text)) for k in entry.secondary]
    return {"and any": any(hits), "and all": all(hits), "not any": not any(hits),
            "not all": not all(hits)}[entry.logic]


def render_chosen(entry: BibleEntry, max_tokens: int) -> tuple[str, int]:
    """One entry as a prompt line, cut to `max_tokens`."""
    head = f"- {', '.join(k for k in entry.keys if not k.startswith('/'))}: " if entry.keys else "- "
    line = head + " ".join(entry.text.split())
    tokens = count_tokens(line)
    if tokens <= max_tokens:
        return line, tokens
    words = line.split(" ")
    low, high = 1, len(words)
    while low < high:  # the most words that fit
        mid = (low + high + 1) // 2
        if count_tokens(" ".join(words[:mid]) + " …") <= max_tokens:
            low = mid
        else:
            high = mid - 1
    line = " ".join(words[:low]) + " …"
    return line, count_tokens(line)


def select(entries: list[BibleEntry], *, plan: str, recent: str = "", short_term: str = "",
           similarities: np.ndarray | None = None, threshold: float = 0.4, max_similar: int = 4,
           budget: int = 600) -> BibleSelection:
    """The entries for one step, within `budget` tokens (see the module docstring)."""
    texts = {"plan": plan[:MAX_SCAN_CHARS], "recent": recent[-MAX_SCAN_CHARS:], "memory": short_term[:MAX_SCAN_CHARS]}
    scan = "\n".join(texts.values())
    candidates: list[tuple[tuple, Chosen]] = []
    for i, entry in enumerate(entries):
        score = float(similarities[i]) if similarities is not None and len(similarities) > i else 0.0
        reason, key = None, ""
        if entry.always:
            reason = "always"
        else:
            for where in ("plan", "recent", "memory"):
                found = _first_key(entry.keys, texts[where])
                if found is not None and _secondary_ok(entry, scan):
                    reason, key = where, found
                    break
        if reason is None and score >= threshold:
            reason = "similar"
        if reason is not None:
            rank = (REASONS.index(reason), -entry.priority, -score, entry.name)
            candidates.append((rank, Chosen(entry, reason, key, score)))
    candidates.sort(key=lambda c: c[0])
    similar = [c for _, c in candidates if c.reason == "similar"][max_similar:]
    selection = BibleSelection(budget=budget)
    per_entry = max(budget // 2, 1)
    used = 0
    full = False
    for _, chosen in candidates:
        if chosen.reason == "similar" and any(chosen is s for s in similar):
            continue  # beyond the few closest
        if full:
            selection.dropped.append(chosen)
            continue
        chosen.text, chosen.tokens = render_chosen(chosen.entry, per_entry)
        if used + chosen.tokens + 1 > budget:
            full = True  # strictly by rank: once one does not fit, every lower one is dropped
            selection.dropped.append(chosen)
            continue
        used += chosen.tokens + 1
        selection.chosen.append(chosen)
    return selection


class StoryBible:
    """One story's bible: its entry files, the cached entry embeddings, and the selection."""

    def __init__(self, folder, embedder, index_dir: Path, settings):
        self.files = BibleFolder(folder)
        self.vectors = EntryVectors(Path(index_dir) / f"{folder.story_id}.bible.npz", embedder)
        self.embedder = embedder
        self.settings = settings

    def entries(self) -> list[BibleEntry]:
        return self.files.entries()

    def select(self, *, plan: str, recent: str, short_term: str,
               entries: list[BibleEntry] | None = None) -> BibleSelection:
        entries = self.entries() if entries is None else entries
        if not entries:
            return BibleSelection(budget=self.settings.bible_tokens)
        similarities = None
        if self.settings.bible_similarity < 1.0 and plan.strip():
            matrix = self.vectors.vectors(entries)
            query = self.embedder.embed([plan])[0]
            similarities = matrix @ query
        return select(entries, plan=plan, recent=recent, short_term=short_term, similarities=similarities,
                      threshold=self.settings.bible_similarity, max_similar=self.settings.bible_similar_k,
                      budget=self.settings.bible_tokens)


# -- the model proposes entries --------------------------------------------------

_EN_SUGGEST = """You keep the story bible of a novel: short reference entries about its characters, places and objects.

Entries the bible has already: {known}

The newest paragraph:
{paragraph}

Does this paragraph introduce a new named character, place or object that has no entry yet and will matter later? \
If so, write one entry for the most important one. Reply with exactly these sections, each label at the start of \
its own line:

Name: the name as the story writes it (or "none" if there is nothing new)
Keys: the name and other words that refer to it, separated by commas
Entry: two to four sentences of facts the story establishes about it (appearance, role, relations, rules)"""

_ZH_SUGGEST = """你负责维护一部小说的设定集：关于人物、地点和物件的简短条目。

设定集已有的条目：{known}

最新一段：
{paragraph}

这一段是否引入了一个还没有条目、以后会重要的新的有名字的人物、地点或物件？如果有，为最重要的一个写一个条目。\
请严格按以下各节回答，每个标签（保持英文）独占一行开头：

Name: 故事中的名字（如果没有新的，写 "none"）
Keys: 这个名字和指代它的其他词，用逗号分隔
Entry: 两到四句故事中确立的事实（外貌、身份、关系、规则）"""

SUGGEST_LABELS = ("Name", "Keys", "Entry")
_COMMON = {
    "the", "a", "an", "and", "but", "or", "so", "then", "when", "while", "where", "what", "who", "why", "how",
    "he", "she", "it", "they", "we", "you", "i", "his", "her", "their", "its", "our", "your", "my", "this", "that",
    "these", "those", "there", "here", "in", "on", "at", "of", "to", "for", "from", "with", "by", "as", "if",
    "no", "not", "yes", "one", "some", "every", "all", "each", "after", "before", "once", "now", "still", "yet",
    "somewhere", "nothing", "everything", "someone", "everyone", "mr", "mrs", "ms", "dr", "sir", "lady", "lord",
    "god", "oh", "ah", "well", "chapter", "paragraph", "plan", "memory",
}


def new_names(paragraph: str, known_text: str, known_keys: list[str]) -> list[str]:
    """Capitalised names in `paragraph` (not just at a sentence start) that
    neither `known_text` nor any bible key mentions: the cheap test that
    decides whether to ask the model for an entry at all."""
    names: list[str] = []
    for match in re.finditer(r"(?<![.!?\"“”'‘’:;]\s)(?<!^)(?<![\n\"“‘])\b([A-Z][a-z]+(?:\s+[A-Z][a-z]+)*)", paragraph):
        name = match.group(1)
        if name.split()[0].lower() in _COMMON:
            continue
        if name in names:
            continue
        pattern = key_pattern(name)
        if pattern.search(known_text) or any(_pattern(k).search(name) for k in known_keys):
            continue
        names.append(name)
    return names


def suggest_messages(paragraph: str, known: list[str], lang: str) -> list[ChatMessage]:
    template = _ZH_SUGGEST if lang == "zh" else _EN_SUGGEST
    none = "（暂无）" if lang == "zh" else "(none yet)"
    known_text = ", ".join(known[:80]) or none
    return [ChatMessage("user", template.format(known=known_text, paragraph=paragraph.strip()[:4000]))]


def parse_suggestion(text: str) -> dict[str, str]:
    found: dict[str, list[str]] = {}
    current = None
    for line in text.split("\n"):
        match = re.match(r"^[\s*#_>-]*(Name|Keys|Entry)[\s*_]*[:：][\s*_]*(.*)$", line, re.IGNORECASE)
        if match:
            current = match.group(1).capitalize()
            found[current] = [match.group(2)]
        elif current:
            found[current].append(line)
    return {k: "\n".join(v).strip().strip("*").strip() for k, v in found.items()}


def propose(backend: "Backend", bible: BibleFolder, paragraph: str, context_text: str,
            lang: str) -> BibleEntry | None:
    """Ask the model (one short call) for an entry about a new name in
    `paragraph`; store it as a pending suggestion. None when nothing is new."""
    entries = bible.entries()
    keys = [k for e in entries for k in e.keys]
    pending = bible.suggestions()
    keys += [k for e in pending for k in e.keys] + bible.rejected()
    if lang != "zh" and not new_names(paragraph, context_text, keys):
        return None  # no new name: no call
    known = [e.label for e in entries + pending]
    reply = backend.generate(suggest_messages(paragraph, known, lang), labels=SUGGEST_LABELS)
    sections = parse_suggestion(reply.text)
    name = sections.get("Name", "").strip().strip('"“”')
    body = sections.get("Entry", "").strip()
    if not name or name.lower() in ("none", "无", "没有") or not body:
        return None
    suggested_keys = [k.strip().strip('"“”') for k in re.split(r"[,，、]", sections.get("Keys", "")) if k.strip()]
    if name not in suggested_keys:
        suggested_keys.insert(0, name)
    suggested_keys = [k for k in suggested_keys if len(k) <= 100][:10]
    if any(k.lower() in {x.lower() for x in keys} for k in suggested_keys[:1]):
        return None  # the model named something the bible already has
    taken = {e.name for e in entries + pending}
    entry = BibleEntry(name=entry_name_for(name, taken), keys=suggested_keys, text=body[:4000], title=name)
    bible.save(entry, where="memory/bible-suggestions")
    return entry


# -- import and export ---------------------------------------------------------------

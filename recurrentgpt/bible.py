"""The story bible: which entries join a step's prompt, the model's proposals
for new entries, and import/export (ours, SillyTavern / KoboldAI World Info,
character-card lorebooks).

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

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from memory.bible import BibleEntry, BibleFolder, EntryVectors, entry_name_for, key_pattern
from recurrentgpt.backends.base import ChatMessage
from recurrentgpt.errors import RecurrentGPTError
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

FORMAT = "recurrentgpt-bible"
_LOGIC_NUMBERS = {0: "and any", 1: "not all", 2: "not any", 3: "and all"}  # SillyTavern's world_info_logic


def _as_keys(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [k.strip() for k in value.split(",") if k.strip()]
    if isinstance(value, (list, tuple)):
        return [str(k).strip() for k in value if str(k).strip()]
    raise RecurrentGPTError(f"Keys must be a list or a comma-separated string, not {type(value).__name__}.")


def _truthy(value) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def from_json(data) -> tuple[list[BibleEntry], int]:
    """Entries from a bible JSON document: ours, a SillyTavern World Info file
    (`entries` keyed by uid), a KoboldAI story or World Info list (`worldinfo`,
    or a list of entries), or a character card's `character_book`. Returns
    (entries, skipped: disabled or empty ones)."""
    if isinstance(data, dict) and data.get("format") == FORMAT:
        raw = data.get("entries", [])
    elif isinstance(data, dict) and "entries" in data:
        raw = data["entries"]
    elif isinstance(data, dict) and isinstance(data.get("worldinfo"), list):
        raw = data["worldinfo"]
    elif isinstance(data, dict) and isinstance((data.get("data") or {}).get("character_book"), dict):
        raw = data["data"]["character_book"].get("entries", [])
    elif isinstance(data, dict) and isinstance(data.get("character_book"), dict):
        raw = data["character_book"].get("entries", [])
    elif isinstance(data, list):
        raw = data
    else:
        raise RecurrentGPTError("This JSON is not a bible or World Info file: expected an object with 'entries' "
                                "(SillyTavern, ours), 'worldinfo' (KoboldAI) or 'character_book', or a list of entries.")
    items = list(raw.values()) if isinstance(raw, dict) else list(raw)
    entries: list[BibleEntry] = []
    taken: set[str] = set()
    skipped = 0
    for item in items:
        if not isinstance(item, dict):
            raise RecurrentGPTError(f"A bible entry must be a JSON object, not {type(item).__name__}.")
        text = str(item.get("text", item.get("content", "")) or "").strip()
        disabled = _truthy(item.get("disable", False)) or item.get("enabled", True) is False
        if not text or disabled:
            skipped += 1
            continue
        keys = _as_keys(item.get("keys", item.get("key")))
        secondary = _as_keys(item.get("secondary", item.get("keysecondary", item.get("secondary_keys"))))
        title = str(item.get("title", "") or item.get("comment", "") or item.get("name", "") or "").strip()
        always = _truthy(item.get("always", item.get("constant", False)))
        logic = item.get("logic", item.get("selectiveLogic", 0))
        logic = _LOGIC_NUMBERS.get(logic, "and any") if isinstance(logic, int) else str(logic).lower().replace("_", " ")
        priority = item.get("priority", item.get("order", item.get("insertion_order", 0))) or 0
        if not keys and not always:
            if not title:
                skipped += 1
                continue
            keys = [title]
        ours = "text" in item and isinstance(item.get("name"), str)
        wanted = item["name"] if ours else (title or (keys[0] if keys else "entry"))
        valid = bool(re.match(r"^[a-z0-9][a-z0-9-]{0,79}$", wanted))
        name = wanted if valid and wanted not in taken else entry_name_for(wanted, taken)
        taken.add(name)
        entries.append(BibleEntry(name=name, keys=keys, text=text, always=always,
                                  title=title if title != name else "", secondary=secondary,
                                  logic=logic if logic in ("and any", "and all", "not any", "not all") else "and any",
                                  priority=int(priority) if str(priority).lstrip("-").isdigit() else 0))
    return entries, skipped


def to_json(entries: list[BibleEntry]) -> dict:
    return {"format": FORMAT, "version": 1, "entries": [e.to_dict() for e in entries]}


def to_world_info(entries: list[BibleEntry]) -> dict:
    """A SillyTavern World Info file (`entries` keyed by uid)."""
    numbers = {v: k for k, v in _LOGIC_NUMBERS.items()}
    result = {}
    for uid, entry in enumerate(entries):
        result[str(uid)] = {
            "uid": uid, "key": list(entry.keys), "keysecondary": list(entry.secondary),
            "comment": entry.title or entry.name, "content": entry.text, "constant": entry.always,
            "selective": bool(entry.secondary), "selectiveLogic": numbers[entry.logic],
            "order": entry.priority or 100, "position": 0, "disable": False,
        }
    return {"entries": result}


def import_file(bible: BibleFolder, path: Path) -> tuple[list[BibleEntry], int, int]:
    """Write the entries of a JSON file as bible files: (entries, replaced, skipped)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    except OSError as error:
        raise RecurrentGPTError(f"Cannot read {path}: {error.strerror}.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RecurrentGPTError(f"{path} is not valid JSON ({error}); export the World Info or bible as JSON.") from None
    entries, skipped = from_json(data)
    replaced = 0
    for entry in entries:
        replaced += bible.exists(entry.name)
        bible.save(entry)
    return entries, replaced, skipped


def export_file(bible: BibleFolder, path: Path, world_info: bool = False) -> int:
    entries = bible.entries()
    data = to_world_info(entries) if world_info else to_json(entries)
    try:
        Path(path).write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    except OSError as error:
        raise RecurrentGPTError(f"Cannot write {path}: {error.strerror}.") from None
    return len(entries)

"""Story bibles in and out as JSON: ours, SillyTavern / KoboldAI World Info,
and character-card lorebooks (`character_book`)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from memory.bible import BibleEntry, BibleFolder, entry_name_for
from recurrentgpt.errors import RecurrentGPTError

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

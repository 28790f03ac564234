"""Story ids: lowercase letters, digits and '-' only, so an id is always a
safe folder name. Anything else is refused, never cleaned up silently."""

from __future__ import annotations

import re
import unicodedata

from memory.errors import InvalidStoryId

_VALID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


def check_story_id(story_id: str) -> str:
    if not isinstance(story_id, str) or not _VALID.fullmatch(story_id):  # not match: "$" allows a final "\n"
        raise InvalidStoryId(
            f"{story_id!r} is not a story id: use lowercase letters, digits and '-' "
            "(see `recurrentgpt list`)."
        )
    return story_id


def slugify(text: str, fallback: str = "story") -> str:
    """A readable id from a title: ASCII letters and digits joined by '-'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:48].strip("-")
    return slug or fallback

"""Reading the model's labelled sections (the output contract in DESIGN.md).

A label starts a line, matched case-insensitively, possibly decorated with
Markdown (`**Paragraph:**`, `## Paragraph`, `- Plan 1:`); its text follows on
the same line or on the next lines, up to the next label. Known labels are
recognised with or without decoration; an unknown label is recognised only
when decorated (a heading or bold), so that prose such as "She said: no"
never cuts a section, and its text is dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

STORY_START = ("Title", "Outline", "Paragraph", "Memory", "Plan 1", "Plan 2", "Plan 3")
STEP = ("Paragraph", "Memory", "Plan 1", "Plan 2", "Plan 3")
CHOICE = ("Choice",)
KNOWN = STORY_START + ("Choice", "Revised plan")

_DECOR = r"[ \t]*(?:[>*_#\-]+[ \t]*)*"
_TAIL = r"[ \t*_]*[:：][ \t*_]*|[ \t*_]*$"


def _label_pattern(label: str) -> str:
    words = label.split()
    return r"[ \t]*".join(re.escape(w) for w in words)


_KNOWN_RE = re.compile(
    rf"^{_DECOR}(?P<label>{'|'.join(_label_pattern(l) for l in sorted(KNOWN, key=len, reverse=True))})"
    rf"(?:{_TAIL})(?P<rest>.*)$",
    re.IGNORECASE,
)
# An unknown label counts only when decorated: "## Notes", "**Notes:**", "**Notes**:".
_UNKNOWN_RE = re.compile(
    r"^[ \t]*(?:#{1,6}[ \t]+[^\n]{1,40}[ \t]*$|\*\*[^*:\n]{1,40}(?::\*\*|\*\*[ \t]*:))"
)


def _canonical(label: str) -> str:
    flat = re.sub(r"\s+", "", label).lower()
    for known in KNOWN:
        if known.replace(" ", "").lower() == flat:
            return known
    return label


@dataclass
class Sections:
    """The sections found in a reply, by canonical label."""

    found: dict[str, str]

    def missing(self, required: tuple[str, ...]) -> list[str]:
        return [label for label in required if not self.found.get(label, "").strip()]

    def __getitem__(self, label: str) -> str:
        return self.found[label]

    def get(self, label: str, default: str = "") -> str:
        return self.found.get(label, default)


def parse_sections(text: str) -> Sections:
    """Split a model reply into its labelled sections.

    Text before the first label is ignored; a repeated label keeps its first
    non-empty occurrence.
    """
    found: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.replace("\r\n", "\n").split("\n"):
        match = _KNOWN_RE.match(line)
        if match:
            current = _canonical(match.group("label"))
            if found.get(current) and "".join(found[current]).strip():
                current = "_repeat"  # keep the first full answer
            found[current] = [match.group("rest").strip(" *_")] if match.group("rest").strip(" *_") else []
            continue
        if _UNKNOWN_RE.match(line):
            current = None
            continue
        if current is not None:
            found[current].append(line)
    result = {}
    for label, lines in found.items():
        if label == "_repeat":
            continue
        result[label] = _tidy("\n".join(lines))
    return Sections(result)


def _tidy(text: str) -> str:
    # Collapse runs of blank lines and strip a dangling Markdown rule or bold marker.
    text = re.sub(r"\n{3,}", "\n\n", text.strip())
    text = re.sub(r"\n?[-*_]{3,}$", "", text).strip()
    return text.strip("*").strip()


def parse_choice(sections: Sections) -> int | None:
    """The AI user's choice (1, 2 or 3), or None when it is not a valid one."""
    match = re.search(r"[123]", sections.get("Choice"))
    if not match:
        return None
    return int(match.group(0))

"""The novel as an EPUB 3 book (ebooklib): title, author, language, a table
of contents, and one XHTML document per chapter.

Chapters come from the text: a paragraph whose first line is a chapter
heading ("Chapter 3", "## Chapter 3: The Door", "第三章 ...") starts one. When
the outline lists chapters ("Chapter 3: The Door"), a bare heading in the
text takes its name from there. A novel without chapter headings is one
chapter named after the book. Interactive fiction exports the path taken:
the reader's choice before each paragraph it led to.
"""

from __future__ import annotations

import html
import io
import os
import re
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from recurrentgpt.novel import Novel

_NUMBER = r"(\d+|[ivxlc]+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_CHAPTER = re.compile(rf"^\s*(?:#{{1,3}}\s*)?(?:\*\*)?(chapter|part)\s+{_NUMBER}\b\s*[:.\-–—]?\s*(.*?)(?:\*\*)?\s*$",
                      re.IGNORECASE)
_CHAPTER_ZH = re.compile(r"^\s*(?:#{1,3}\s*)?(第[一二三四五六七八九十百千零〇两\d]+[章回节])\s*[:：.、]?\s*(.*?)\s*$")
_WORDS = {w: i for i, w in enumerate("one two three four five six seven eight nine ten eleven twelve".split(), start=1)}
_ROMAN = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100}

LABELS = {
    "en": {"contents": "Contents", "opening": "Opening", "choice": "You chose"},
    "zh": {"contents": "目录", "opening": "开篇", "choice": "你的选择"},
}

CSS = """body { font-family: serif; line-height: 1.5; margin: 0 5%; }
h1 { text-align: center; margin: 2em 0 1em; }
p { text-indent: 1.5em; margin: 0 0 0.6em; }
p.choice { text-indent: 0; font-style: italic; margin: 1.2em 0 0.6em; }
"""


@dataclass
class Chapter:
    title: str
    blocks: list[tuple[str, str]] = field(default_factory=list)  # (kind, text): kind "p" or "choice"


def _number(token: str) -> int | None:
    token = token.lower()
    if token.isdigit():
        return int(token)
    if token in _WORDS:
        return _WORDS[token]
    if all(c in _ROMAN for c in token):
        total = 0
        for a, b in zip(token, token[1:] + " "):
            value = _ROMAN[a]
            total += -value if b in _ROMAN and _ROMAN[b] > value else value
        return total
    return None


def chapter_heading(line: str) -> tuple[str, int | None, str] | None:
    """(heading as written, chapter number or None, name after the number) of a chapter heading line."""
    match = _CHAPTER.match(line)
    if match:
        word, token, name = match.groups()
        return f"{word.capitalize()} {token}", _number(token) if word.lower() == "chapter" else None, name.strip()
    match = _CHAPTER_ZH.match(line)
    if match:
        return match.group(1), None, match.group(2).strip()
    return None


def outline_chapters(outline: str) -> dict[str, str]:
    """Chapter names the outline gives, by heading ("Chapter 3" -> "The Door")."""
    names = {}
    for line in outline.splitlines():
        found = chapter_heading(line)
        if found and found[2]:
            names[found[0].lower()] = found[2]
    return names


def chapters(title: str, outline: str, paragraphs: list[str], choices: list[str] | None = None,
             lang: str = "en") -> list[Chapter]:
    """Split the paragraphs into chapters at chapter-heading lines; `choices`
    (interactive fiction) holds, per paragraph, the choice that led to it ("" for none)."""
    names = outline_chapters(outline)
    labels = LABELS.get(lang, LABELS["en"])
    result: list[Chapter] = []
    for i, paragraph in enumerate(paragraphs):
        first, _, rest = paragraph.strip().partition("\n")
        found = chapter_heading(first)
        if found:
            heading, _, name = found
            name = name or names.get(heading.lower(), "")
            result.append(Chapter(f"{heading}: {name}" if name and lang != "zh" else f"{heading} {name}".strip()))
            paragraph = rest
        elif not result:
            result.append(Chapter(title if not any(chapter_heading(p.strip().partition("\n")[0]) for p in paragraphs)
                                  else labels["opening"]))
        choice = (choices[i] if choices else "").strip()
        if choice:
            result[-1].blocks.append(("choice", choice))
        if paragraph.strip():
            result[-1].blocks.append(("p", paragraph.strip()))
    return result or [Chapter(title)]


def _xhtml_body(chapter: Chapter, lang: str) -> str:
    choice_label = LABELS.get(lang, LABELS["en"])["choice"]
    parts = [f"<h1>{html.escape(chapter.title)}</h1>"]
    for kind, text in chapter.blocks:
        lines = "<br/>".join(html.escape(line.strip()) for line in text.splitlines() if line.strip())
        if kind == "choice":
            parts.append(f'<p class="choice">{html.escape(choice_label)}: {lines}</p>')
        else:
            parts.append(f"<p>{lines}</p>")
    return "\n".join(parts)


def book_identifier(story_id: str, title: str) -> str:
    """Stable per story and title, so exporting twice names the same book."""
    return "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, f"recurrentgpt:{story_id}:{title}"))


def epub_bytes(*, story_id: str, title: str, author: str, lang: str, outline: str, paragraphs: list[str],
               choices: list[str] | None = None, modified=None) -> bytes:
    """An EPUB 3 file (bytes). `modified` (a datetime) is the dcterms:modified date."""
    from ebooklib import epub

    lang = lang or "en"
    book = epub.EpubBook()
    book.set_identifier(book_identifier(story_id, title))
    book.set_title(title)
    book.set_language(lang)
    book.add_author(author)
    style = epub.EpubItem(uid="style", file_name="style/book.css", media_type="text/css", content=CSS)
    book.add_item(style)
    documents = []
    for number, chapter in enumerate(chapters(title, outline, paragraphs, choices, lang), start=1):
        doc = epub.EpubHtml(title=chapter.title, file_name=f"chapter-{number:03d}.xhtml", lang=lang,
                            uid=f"chapter-{number:03d}")
        doc.content = _xhtml_body(chapter, lang)
        doc.add_item(style)
        book.add_item(doc)
        documents.append(doc)
    book.toc = [epub.Link(d.file_name, d.title, d.id) for d in documents]
    book.add_item(epub.EpubNcx())
    nav = epub.EpubNav(title=LABELS.get(lang, LABELS["en"])["contents"])
    book.add_item(nav)
    book.spine = ["nav", *documents]
    out = io.BytesIO()
    options = {"raise_exceptions": True, "epub3_landmark": False, "epub3_pages": False}
    if modified is not None:
        options["mtime"] = modified
    epub.write_epub(out, book, options)
    return out.getvalue()


def playthrough_choices(novel: "Novel") -> list[str]:
    """For each live paragraph, the reader's choice that led to it ("" for the
    opening and for paragraphs written by hand)."""
    from sqlalchemy import select

    from memory.models import LiveParagraph, Paragraph, Step

    q = (
        select(LiveParagraph.number, Step.kind, Step.instruction)
        .join(Paragraph, Paragraph.id == LiveParagraph.paragraph_id)
        .join(Step, Step.id == Paragraph.step_id)
        .where(LiveParagraph.story_id == novel.id)
        .order_by(LiveParagraph.number)
    )
    with novel.store.db.session() as s:
        return [instruction if kind == "write" else "" for _, kind, instruction in s.execute(q).all()]


def novel_epub(novel: "Novel", author: str | None = None) -> bytes:
    """The story's current branch as an EPUB; the author defaults to $RECURRENTGPT_AUTHOR."""
    info = novel.refresh()
    head = novel.head
    paragraphs = list(novel.paragraphs().values())
    choices = playthrough_choices(novel) if info.mode == "fiction" else None
    return epub_bytes(story_id=info.id, title=head.title.strip(), author=author or os.environ.get("RECURRENTGPT_AUTHOR") or "RecurrentGPT", lang=info.lang,
                      outline=head.outline, paragraphs=paragraphs, choices=choices, modified=info.updated_at)

"""The novel out of the database, as Markdown, plain text or EPUB 3 (recurrentgpt.epub)."""

from __future__ import annotations

from recurrentgpt.novel import Novel

FORMATS = ("md", "txt", "epub")


def novel_markdown(novel: Novel) -> str:
    head = novel.head
    paragraphs = novel.paragraphs().values()
    return f"# {head.title}\n\n" + "\n\n".join(p.strip() for p in paragraphs) + "\n"


def novel_text(novel: Novel) -> str:
    head = novel.head
    title = head.title.strip()
    paragraphs = novel.paragraphs().values()
    return f"{title}\n{'=' * len(title)}\n\n" + "\n\n".join(p.strip() for p in paragraphs) + "\n"


def export_novel(novel: Novel, fmt: str, *, author: str | None = None) -> bytes:
    """The novel as a file's bytes; `author` names the writer in an EPUB."""
    if fmt == "md":
        return novel_markdown(novel).encode("utf-8")
    if fmt == "txt":
        return novel_text(novel).encode("utf-8")
    if fmt == "epub":
        from recurrentgpt.epub import novel_epub

        return novel_epub(novel, author=author)
    from recurrentgpt.errors import RecurrentGPTError

    raise RecurrentGPTError(f"Unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}.")

"""Turning story text into page HTML. Every piece of text that came from a
model or a person is escaped here, so a reply containing `<script>` or
`<img onerror=...>` shows as the characters it is and runs nothing."""

import html

from recurrentgpt.parsing import parse_sections

STATES = ("ready", "generating", "stopped", "failed")


def esc(text: str) -> str:
    return html.escape(text or "", quote=True)


def paragraphs_html(text: str) -> str:
    """One `<p>` per blank-line-separated block; line breaks kept."""
    blocks = [b.strip() for b in (text or "").replace("\r\n", "\n").split("\n\n") if b.strip()]
    return "".join(f"<p>{esc(b).replace(chr(10), '<br>')}</p>" for b in blocks)


def novel_html(title: str, paragraphs: dict[int, str]) -> str:
    if not paragraphs:
        return '<div class="rg-novel rg-empty">Open a story in the Library, or start a new one.</div>'
    body = "".join(
        f'<section class="rg-par" data-n="{n}"><span class="rg-num">{n}</span>{paragraphs_html(text)}</section>'
        for n, text in paragraphs.items()
    )
    return f'<article class="rg-novel"><h1 class="rg-title">{esc(title)}</h1>{body}</article>'


def live_html(raw: str, label: str = "Paragraph") -> str:
    """The section being written, from the partial reply streamed so far."""
    text = parse_sections(raw).get(label) if raw else ""
    if not text:
        return '<div class="rg-live rg-waiting">Waiting for the first words…</div>' if raw is not None else ""
    return f'<div class="rg-live">{paragraphs_html(text)}<span class="rg-caret"></span></div>'


def status_html(state: str, text: str) -> str:
    state = state if state in STATES else "ready"
    return f'<div class="rg-status rg-{state}" data-state="{state}">{esc(text)}</div>'


def progress_html(done: int, total: int, text: str = "") -> str:
    total = max(total, 1)
    percent = int(100 * done / total)
    return (f'<div class="rg-progress"><progress max="{total}" value="{done}"></progress>'
            f'<span>{esc(text or f"{done} of {total} steps")} ({percent}%)</span></div>')


def feed_html(paragraphs: list[tuple[int, str]], live: str = "") -> str:
    """Paragraphs landed during an auto run, newest last, and the one streaming."""
    items = "".join(f'<section class="rg-par" data-n="{n}"><span class="rg-num">{n}</span>{paragraphs_html(t)}</section>'
                    for n, t in paragraphs)
    return f'<article class="rg-novel rg-feed">{items}{live}</article>'


def word_count(texts) -> int:
    return sum(len(t.split()) for t in texts)

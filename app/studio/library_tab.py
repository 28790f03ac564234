"""The Library tab: every story with its title, mode, length and last change;
start a new one (its opening streams in), open, delete (after a second,
explicit click) and download exports."""

import tempfile
from pathlib import Path

import gradio as gr

from app.studio.render import live_html, status_html, word_count
from app.studio.session import Studio, no_story, story_state, user_errors
from app.studio.streaming import relay
from recurrentgpt import export
from recurrentgpt.errors import USER_ERRORS, Cancelled

COLUMNS = ["Title", "Mode", "Paragraphs", "Words", "Last change", "Id"]


# -- handlers ----------------------------------------------------------------------

def library_rows(studio: Studio) -> list[list]:
    rows = []
    for info in studio.library.stories():
        paragraphs = studio.library.store.paragraphs(info.id)
        rows.append([info.title, info.mode, len(paragraphs), word_count(paragraphs.values()),
                     f"{info.updated_at:%Y-%m-%d %H:%M}", info.id])
    return rows


def story_choices(rows: list[list]) -> list[tuple[str, str]]:
    return [(f"{r[0]} ({r[5]})", r[5]) for r in rows]


def start_story(studio: Studio, session: str, prefs: dict, premise: str, title: str, genre: str, lang: str):
    """Yield (live, status, story) while the model writes the opening."""
    if not (premise or "").strip():
        raise gr.Error("Write the premise: a sentence or two about what the story is about.")
    with user_errors():
        backend = studio.backend(prefs)
    cancel = studio.new_cancel(session)

    def work(on_text, cancel):
        novel = studio.library.start(premise=premise, title=title or "", genre=genre or "", lang=lang or "en",
                                     backend=backend, on_text=on_text, cancel=cancel)
        novel.close()
        return novel

    label = "Writing the opening…"
    yield live_html(""), status_html("generating", label), no_story()
    try:
        novel = yield from relay(work, cancel,
                                 lambda raw: (live_html(raw), status_html("generating", label), no_story()))
    except Cancelled:
        yield "", status_html("stopped", "Stopped; no story was created."), no_story()
        return
    except USER_ERRORS as error:
        yield "", status_html("failed", f"Failed: {error}"), no_story()
        with user_errors():
            raise
    yield "", status_html("ready", f"Started “{novel.info.title}”."), story_state(novel)


def open_story(studio: Studio, story_id: str | None) -> tuple[dict, str]:
    if not story_id:
        raise gr.Error("Choose a story to open.")
    with user_errors():
        novel = studio.library.open(story_id)
        novel.import_edits()  # files edited by hand while the studio was closed
        novel.close()
        return story_state(novel), status_html("ready", f"Opened “{novel.info.title}”.")


def delete_story(studio: Studio, story: dict, story_id: str | None, confirmed: bool) -> tuple[dict, str]:
    if not story_id:
        raise gr.Error("Choose a story to delete.")
    if not confirmed:
        raise gr.Error("Deleting needs the confirmation click.")
    with user_errors():
        studio.library.delete(story_id)
    still_open = story if story and story.get("id") != story_id else no_story()
    return still_open, status_html("ready", f"Deleted {story_id}.")


def export_story(studio: Studio, story_id: str | None, fmt: str, folder: Path | None = None) -> str:
    """Write the export to a fresh temporary file and return its path (for gr.File)."""
    if not story_id:
        raise gr.Error("Choose a story to export.")
    with user_errors():
        novel = studio.library.open(story_id)
        data = export.export_novel(novel, fmt)
    folder = Path(folder or tempfile.mkdtemp(prefix="recurrentgpt-export-"))
    path = folder / f"{story_id}.{fmt}"
    path.write_bytes(data)
    return str(path)


def export_formats() -> list[str]:
    return list(getattr(export, "FORMATS", ("md", "txt")))


def render_library(studio: Studio, novel) -> list:
    rows = library_rows(studio)
    current = novel.id if novel is not None else (rows[0][5] if rows else None)
    return [gr.update(value=rows), gr.update(choices=story_choices(rows), value=current)]


# -- layout ---------------------------------------------------------------------------

def build_library_tab(ctx) -> None:
    studio = ctx.studio
    with gr.Tab("Library", id="library"):
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                table = gr.Dataframe(headers=COLUMNS, value=[], interactive=False, wrap=True,
                                     column_widths=["32%", "10%", "12%", "10%", "18%", "18%"],
                                     elem_id="stories", label="Stories")
                picked = gr.Dropdown([], label="Story", elem_id="story-pick", allow_custom_value=False)
                with gr.Row():
                    open_btn = gr.Button("Open", variant="primary", elem_id="open-story")
                    delete_btn = gr.Button("Delete…", variant="stop", elem_id="delete-story")
                with gr.Row(visible=False) as confirm_row:
                    gr.Markdown("Delete this story and its memory files for good?")
                    confirm_btn = gr.Button("Yes, delete it", variant="stop", elem_id="confirm-delete")
                    keep_btn = gr.Button("Keep it", elem_id="keep-story")
                with gr.Row():
                    fmt = gr.Radio(export_formats(), value="md", label="Export as", elem_id="export-format")
                    export_btn = gr.Button("Export", elem_id="export")
                download = gr.File(label="Download", elem_id="download", interactive=False)
            with gr.Column(scale=2, min_width=320, elem_classes="rg-new-story"):
                gr.Markdown("### A new story")
                premise = gr.Textbox(label="Premise", lines=4, elem_id="premise",
                                     placeholder="A lighthouse keeper finds a door in the sea…")
                title = gr.Textbox(label="Title (optional; the model proposes one)", elem_id="new-title")
                genre = gr.Textbox(label="Genre", elem_id="genre", placeholder="fantasy, mystery, …")
                lang = gr.Radio([("English", "en"), ("Chinese 中文", "zh")], value="en", label="Language", elem_id="lang")
                start_btn = gr.Button("Start writing", variant="primary", elem_id="start-story")
                live = gr.HTML("", elem_id="start-live")
                status = gr.HTML(status_html("ready", ""), elem_id="library-status")

    ctx.parts.update(lang=lang)
    ctx.view([table, picked], lambda n: render_library(studio, n))

    def run_start(prefs, p, t, g, l, request: gr.Request):
        yield from start_story(studio, request.session_hash, prefs, p, t, g, l)

    started = start_btn.click(lambda: gr.update(interactive=False), None, start_btn, queue=False).then(
        run_start, [ctx.prefs, premise, title, genre, lang], [live, status, ctx.story],
        api_name="start_story", concurrency_limit=None, show_progress="hidden")
    ctx.changes(started, after=lambda e: e.then(
        lambda s: (gr.update(interactive=True), gr.Tabs(selected="write") if s.get("id") else gr.Tabs()),
        ctx.story, [start_btn, ctx.tabs], queue=False))
    ctx.changes(open_btn.click(lambda sid: open_story(studio, sid), picked, [ctx.story, status], api_name="open_story"),
                after=lambda e: e.success(lambda: gr.Tabs(selected="write"), None, ctx.tabs, queue=False))
    delete_btn.click(lambda: gr.update(visible=True), None, confirm_row, queue=False)
    keep_btn.click(lambda: gr.update(visible=False), None, confirm_row, queue=False)
    ctx.changes(confirm_btn.click(lambda s, sid: delete_story(studio, s, sid, True), [ctx.story, picked],
                                  [ctx.story, status], api_name="delete_story"),
                after=lambda e: e.then(lambda: gr.update(visible=False), None, confirm_row, queue=False))
    export_btn.click(lambda sid, f: export_story(studio, sid, f), [picked, fmt], download, api_name="export")

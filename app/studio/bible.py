"""The Bible tab: the story bible's entries (characters, places, objects,
rules) to list, search, create, edit and delete; the model's pending
suggestions to accept, edit or reject; import and export as JSON (ours or
SillyTavern / KoboldAI World Info); and which entries the next step will use.

The entries are the files in `memory/bible/`: what is saved here is written
there, and what is edited there by hand shows here on the next render.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import gradio as gr

from app.studio.render import status_html
from app.studio.session import Studio, message, user_errors
from app.studio.write import plan_argument
from memory.bible import SUGGESTIONS, BibleEntry, check_entry_name, entry_name_for, parse_entry, render_entry
from memory.errors import MemoryFileError
from recurrentgpt.world_info import export_file, import_file

SNIPPET = 140
ENTRY_HEADERS = ["Name", "Keys", "Always", "Text"]
NEXT_HEADERS = ["Name", "Why", "Key or similarity", "Tokens"]


def snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET else text[:SNIPPET].rsplit(" ", 1)[0] + " …"


def _row(entry: BibleEntry) -> list:
    return [entry.name, ", ".join(entry.keys), "yes" if entry.always else "", snippet(entry.text)]


# -- handlers (plain functions; the layout below wires them) ------------------------


def list_entries(studio: Studio, story: dict, query: str = "") -> list[list]:
    """Every entry, or those whose name, keys, title or text contain `query` (any case)."""
    with studio.novel(story) as novel, user_errors():
        entries = novel.bible.entries()
    words = (query or "").lower().split()
    if words:
        def hay(e: BibleEntry) -> str:
            return " ".join([e.name, e.title, *e.keys, e.text]).lower()

        entries = [e for e in entries if all(w in hay(e) for w in words)]
    return [_row(e) for e in entries]


def load_entry(studio: Studio, story: dict, name: str, suggestion: bool = False) -> tuple[str, str, bool, str]:
    """(name, keys, always, text) of an entry, for the editor."""
    if not (name or "").strip():
        return "", "", False, ""
    with studio.novel(story) as novel, user_errors():
        try:
            entry = novel.bible.files.get(name.strip(), SUGGESTIONS if suggestion else "memory/bible")
        except ValueError as error:
            raise gr.Error(message(error)) from None
    return entry.name, ", ".join(entry.keys), entry.always, entry.text


def _entry_from_form(name: str, keys: str, always: bool, text: str, path: str) -> BibleEntry:
    entry = BibleEntry(name=name, keys=[k.strip() for k in (keys or "").split(",") if k.strip()],
                       text=(text or "").strip(), always=bool(always))
    parse_entry(render_entry(entry), name, path)  # the same validation as a hand-edited file
    return entry


def save_entry(studio: Studio, story: dict, name: str, keys: str, always: bool, text: str,
               original: str = "") -> tuple[list[list], str, str]:
    """Create or update an entry (renaming it when `name` differs from `original`).
    Returns (the entry list, the saved name, a status line)."""
    name = (name or "").strip().lower() or entry_name_for((keys or "").split(",")[0])
    with studio.novel(story) as novel, user_errors():
        files = novel.bible.files
        try:
            check_entry_name(name)
            entry = _entry_from_form(name, keys, always, text, str(files.folder.path(f"memory/bible/{name}.md")))
        except (ValueError, MemoryFileError) as error:
            raise gr.Error(message(getattr(error, "problem", error))) from None
        original = (original or "").strip()
        if name != original and files.exists(name):
            raise gr.Error(f"There is already an entry named {name}; choose another name.")
        files.save(entry)
        if original and original != name and files.exists(original):
            files.delete(original)
        rows = [_row(e) for e in files.entries()]
    return rows, name, status_html("ready", f"Saved {name}; the next step reads it.")


def delete_entry(studio: Studio, story: dict, name: str) -> tuple[list[list], str]:
    if not (name or "").strip():
        raise gr.Error("Choose the entry to delete (click it in the list).")
    with studio.novel(story) as novel, user_errors():
        files = novel.bible.files
        try:
            if not files.exists(name.strip()):
                raise gr.Error(f"There is no entry named {name.strip()}.")
            files.delete(name.strip())
        except ValueError as error:
            raise gr.Error(message(error)) from None
        rows = [_row(e) for e in files.entries()]
    return rows, status_html("ready", f"Deleted {name.strip()}.")


def next_entries(studio: Studio, story: dict, prefs: dict, choice: str, plan1: str, plan2: str, plan3: str,
                 instruction: str) -> tuple[list[list], str]:
    """Which entries the next step will carry for the chosen plan, and why."""
    with studio.novel(story, prefs) as novel, user_errors():
        head = novel.head
        plan = plan_argument(head.plans, choice, [plan1, plan2, plan3], instruction)
        instruction_text, _ = novel.plan_text(plan)
        context = novel.context(instruction_text)
        budget = novel.bible.settings.bible_tokens
    rows = [[u["name"], u["reason"], u["key"] or f"{u['score']:.2f}", u["tokens"]] for u in context.bible]
    used = sum(u["tokens"] for u in context.bible)
    return rows, f"**{len(rows)} entries**, {used} of {budget} tokens"


def list_suggestions(studio: Studio, story: dict) -> list[list]:
    with studio.novel(story) as novel, user_errors():
        return [_row(e) for e in novel.bible.files.suggestions()]


def accept_suggestion(studio: Studio, story: dict, original: str, name: str, keys: str, always: bool,
                      text: str) -> tuple[list[list], list[list], str]:
    """The suggestion `original`, as the writer edited it in the form, becomes an entry."""
    if not (original or "").strip():
        raise gr.Error("Choose a suggestion first (click it in the list).")
    name = (name or original).strip().lower()
    with studio.novel(story) as novel, user_errors():
        files = novel.bible.files
        try:
            check_entry_name(name)
            entry = _entry_from_form(name, keys, always, text, str(files.folder.path(f"memory/bible/{name}.md")))
            files.accept(original.strip(), entry)
        except (ValueError, MemoryFileError) as error:
            raise gr.Error(message(getattr(error, "problem", error))) from None
        return ([_row(e) for e in files.entries()], [_row(e) for e in files.suggestions()],
                status_html("ready", f"Accepted {name} into the bible."))


def reject_suggestion(studio: Studio, story: dict, original: str) -> tuple[list[list], str]:
    if not (original or "").strip():
        raise gr.Error("Choose a suggestion first (click it in the list).")
    with studio.novel(story) as novel, user_errors():
        try:
            novel.bible.files.reject(original.strip())
        except ValueError as error:
            raise gr.Error(message(error)) from None
        return [_row(e) for e in novel.bible.files.suggestions()], status_html("ready", f"Rejected {original}.")


def import_entries(studio: Studio, story: dict, upload) -> tuple[list[list], str]:
    if not upload:
        raise gr.Error("Choose a JSON file: a bible exported here, or SillyTavern / KoboldAI World Info.")
    path = upload if isinstance(upload, str) else getattr(upload, "name", upload)
    with studio.novel(story) as novel, user_errors():
        entries, replaced, skipped = import_file(novel.bible.files, Path(path))
        rows = [_row(e) for e in novel.bible.files.entries()]
    note = f"Imported {len(entries)} entries ({replaced} replaced" + (f", {skipped} skipped" if skipped else "") + ")."
    return rows, status_html("ready", note)


def export_entries(studio: Studio, story: dict, world_info: bool = False) -> str:
    """A JSON file of the bible, for download; its path."""
    with studio.novel(story) as novel, user_errors():
        suffix = "world-info" if world_info else "bible"
        path = Path(tempfile.mkdtemp(prefix="rgpt-bible-")) / f"{novel.id}-{suffix}.json"
        export_file(novel.bible.files, path, world_info=world_info)
    return str(path)


def render_bible(studio: Studio, novel) -> list:
    """The tab's lists for the open story (None: no story)."""
    if novel is None:
        return [[], []]
    try:
        return [[_row(e) for e in novel.bible.files.entries()], [_row(e) for e in novel.bible.files.suggestions()]]
    except MemoryFileError as error:  # a hand-edited file that does not parse: say which
        return [[["(error)", "", "", str(error)]], []]


# -- layout --------------------------------------------------------------------------


def build_bible_tab(ctx) -> None:
    studio = ctx.studio
    with gr.Tab("Bible", id="bible"):
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                gr.Markdown("### Story bible\nCharacters, places, objects and rules. An entry joins the prompt "
                            "when the plan, the previous paragraph or the short-term memory names one of its "
                            "keys, when it is close in meaning to the plan, or always.")
                with gr.Row():
                    query = gr.Textbox(label="Search", elem_id="bible-query", scale=4)
                    search_btn = gr.Button("Search", elem_id="bible-search", scale=1)
                table = gr.Dataframe(headers=ENTRY_HEADERS, value=[], interactive=False, wrap=True,
                                     elem_id="bible-entries", label="Entries")
                suggestions = gr.Dataframe(headers=ENTRY_HEADERS, value=[], interactive=False, wrap=True,
                                           elem_id="bible-suggestions", label="Suggested by the model")
            with gr.Column(scale=2, min_width=320):
                original = gr.Textbox(visible=False)
                suggestion = gr.Textbox(visible=False)
                name = gr.Textbox(label="Name (file name: lowercase letters, digits, '-')", elem_id="bible-name")
                keys = gr.Textbox(label="Keys (comma-separated)", elem_id="bible-keys")
                always = gr.Checkbox(label="Always include", elem_id="bible-always")
                text = gr.Textbox(label="Text", lines=8, elem_id="bible-text")
                with gr.Row():
                    save_btn = gr.Button("Save entry", elem_id="bible-save")
                    new_btn = gr.Button("New entry", elem_id="bible-new")
                    delete_btn = gr.Button("Delete entry", variant="stop", elem_id="bible-delete")
                with gr.Row():
                    accept_btn = gr.Button("Accept suggestion", elem_id="bible-accept")
                    reject_btn = gr.Button("Reject suggestion", elem_id="bible-reject")
                status = gr.HTML(status_html("ready", ""), elem_id="bible-status")
                with gr.Accordion("Import and export", open=False):
                    upload = gr.File(label="Import JSON (ours, SillyTavern or KoboldAI World Info)",
                                     file_types=[".json"], elem_id="bible-import")
                    world_info = gr.Checkbox(label="Export as SillyTavern World Info", elem_id="bible-wi")
                    export_btn = gr.Button("Export", elem_id="bible-export")
                    download = gr.File(label="Download", interactive=False)
        with gr.Accordion("What the next step will use", open=False, elem_id="bible-next"):
            next_btn = gr.Button("Show the entries for the chosen plan", elem_id="bible-next-show")
            next_summary = gr.Markdown("")
            next_table = gr.Dataframe(headers=NEXT_HEADERS, value=[], interactive=False, elem_id="bible-next-table")

    ctx.view([table, suggestions], lambda n: render_bible(studio, n))
    search_btn.click(lambda s, q: list_entries(studio, s, q), [ctx.story, query], table, api_name="bible_search")
    query.submit(lambda s, q: list_entries(studio, s, q), [ctx.story, query], table)

    def pick(s, evt: gr.SelectData):
        row = evt.row_value or []
        chosen = row[0] if row else ""
        return (*load_entry(studio, s, chosen), chosen, "")

    def pick_suggestion(s, evt: gr.SelectData):
        row = evt.row_value or []
        chosen = row[0] if row else ""
        return (*load_entry(studio, s, chosen, suggestion=True), "", chosen)

    form = [name, keys, always, text]
    table.select(pick, ctx.story, [*form, original, suggestion])
    suggestions.select(pick_suggestion, ctx.story, [*form, original, suggestion])
    new_btn.click(lambda: ("", "", False, "", "", ""), None, [*form, original, suggestion], queue=False)
    save_btn.click(lambda s, n, k, a, t, o: save_entry(studio, s, n, k, a, t, o),
                   [ctx.story, *form, original], [table, original, status], api_name="bible_save")
    delete_btn.click(lambda s, n: delete_entry(studio, s, n), [ctx.story, original], [table, status],
                     api_name="bible_delete")
    accept_btn.click(lambda s, o, n, k, a, t: accept_suggestion(studio, s, o, n, k, a, t),
                     [ctx.story, suggestion, *form], [table, suggestions, status], api_name="bible_accept")
    reject_btn.click(lambda s, o: reject_suggestion(studio, s, o), [ctx.story, suggestion], [suggestions, status],
                     api_name="bible_reject")
    upload.upload(lambda s, f: import_entries(studio, s, f), [ctx.story, upload], [table, status])
    export_btn.click(lambda s, w: export_entries(studio, s, w), [ctx.story, world_info], download)
    write = ctx.parts
    if {"plan_choice", "plan_boxes", "instruction"} <= set(write):
        next_btn.click(lambda s, p, c, a, b, d, i: next_entries(studio, s, p, c, a, b, d, i),
                       [ctx.story, ctx.prefs, write["plan_choice"], *write["plan_boxes"], write["instruction"]],
                       [next_table, next_summary], api_name="bible_next")

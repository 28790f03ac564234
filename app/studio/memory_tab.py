"""The Memory tab: the long-term memory as a list of paragraphs with
semantic search, editing and deleting one entry (re-embedded once, on the
next search or step), and "what the model will see": the exact next prompt
for the chosen plan and its token count."""

import gradio as gr

from app.studio.render import status_html
from app.studio.session import Studio, story_state, user_errors
from app.studio.write import plan_argument
from recurrentgpt.context import retrieval_queries

SNIPPET = 160


def snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET else text[:SNIPPET].rsplit(" ", 1)[0] + " …"


# -- handlers ----------------------------------------------------------------------

def entries(novel) -> list[list]:
    return [[n, len(t.split()), snippet(t)] for n, t in novel.paragraphs().items()]


def search(studio: Studio, story: dict, prefs: dict, query: str) -> list[list]:
    """The paragraphs closest in meaning to `query`, with their scores."""
    if not (query or "").strip():
        raise gr.Error("Type what to look for: a name, an event, a phrase.")
    with studio.novel(story, prefs) as novel, user_errors():
        novel.long_term.sync(novel.head.id)
        k = max(1, int(novel.settings.retrieval_k) * 2)
        hits = novel.long_term.search([query.strip()], k)
        texts = novel.paragraphs()
        return [[n, round(float(score), 3), snippet(texts.get(n, ""))] for n, score in hits]


def load_entry(studio: Studio, story: dict, number) -> str:
    if number in (None, ""):
        return ""
    with studio.novel(story) as novel:
        text = novel.paragraphs().get(int(number))
        if text is None:
            raise gr.Error(f"There is no paragraph {int(number)} in this story.")
        return text


def save_entry(studio: Studio, story: dict, number, text: str) -> tuple[dict, str]:
    if number in (None, ""):
        raise gr.Error("Choose the paragraph to change (its number in the list).")
    with studio.novel(story) as novel, user_errors():
        novel.edit(paragraphs={int(number): text}, expected_version=story.get("version"))
        return story_state(novel), status_html("ready", f"Paragraph {int(number)} saved; it is re-embedded once.")


def delete_entry(studio: Studio, story: dict, number) -> tuple[dict, str]:
    if number in (None, ""):
        raise gr.Error("Choose the paragraph to delete (its number in the list).")
    with studio.novel(story) as novel, user_errors():
        novel.edit(paragraphs={int(number): None}, expected_version=story.get("version"))
        return story_state(novel), status_html("ready", f"Paragraph {int(number)} deleted; Undo brings it back.")


def next_prompt(studio: Studio, story: dict, prefs: dict, choice: str, plan1: str, plan2: str, plan3: str,
                instruction: str) -> tuple[str, str]:
    """The exact messages the next step will send, and how big they are."""
    with studio.novel(story, prefs) as novel, user_errors():
        head = novel.head
        plan = plan_argument(head.plans, choice, [plan1, plan2, plan3], instruction)
        instruction_text, _ = novel.plan_text(plan)
        context = novel.context(instruction_text)
        shown = "\n\n".join(f"===== {m.role} =====\n{m.content}" for m in context.messages)
        recalled = ", ".join(f"{n} ({score:.2f})" for n, score in context.retrieved) or "none yet"
        bible = ", ".join(u["name"] for u in context.bible) or "none"
        summary = (f"**{context.tokens} tokens** (estimate) · recalled paragraphs: {recalled} · "
                   f"searched with {len(retrieval_queries(instruction_text, head.short_term))} queries · "
                   f"bible entries: {bible}")
        return shown, summary


def render_memory(studio: Studio, novel) -> list:
    if novel is None:
        return [[], "", None]
    return [entries(novel), "", None]


# -- layout --------------------------------------------------------------------------

def build_memory_tab(ctx) -> None:
    studio = ctx.studio
    with gr.Tab("Memory", id="memory"):
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                gr.Markdown("### Long-term memory\nEvery paragraph, searchable by meaning. "
                            "The few closest to the plan are recalled each step.")
                with gr.Row():
                    query = gr.Textbox(label="Search by meaning", elem_id="memory-query", scale=4)
                    search_btn = gr.Button("Search", elem_id="memory-search", scale=1)
                hits = gr.Dataframe(headers=["#", "Score", "Paragraph"], value=[], interactive=False, wrap=True,
                                    elem_id="memory-hits", label="Closest paragraphs")
                table = gr.Dataframe(headers=["#", "Words", "Paragraph"], value=[], interactive=False, wrap=True,
                                     elem_id="memory-entries", label="All paragraphs")
            with gr.Column(scale=2, min_width=320):
                number = gr.Number(label="Paragraph #", precision=0, elem_id="entry-number")
                entry = gr.Textbox(label="Paragraph text", lines=8, elem_id="entry-text")
                with gr.Row():
                    save_btn = gr.Button("Save paragraph", elem_id="entry-save")
                    delete_btn = gr.Button("Delete paragraph", variant="stop", elem_id="entry-delete")
                status = gr.HTML(status_html("ready", ""), elem_id="memory-status")
        with gr.Accordion("What the model will see next", open=False, elem_id="prompt-view"):
            show_btn = gr.Button("Show the next prompt", elem_id="show-prompt")
            summary = gr.Markdown("", elem_id="prompt-summary")
            prompt = gr.Textbox(label="The next prompt, exactly", lines=16, max_lines=40, interactive=False,
                                elem_id="prompt-text")

    ctx.view([table, entry, number], lambda n: render_memory(studio, n))
    search_btn.click(lambda s, p, q: search(studio, s, p, q), [ctx.story, ctx.prefs, query], hits,
                     api_name="memory_search")
    query.submit(lambda s, p, q: search(studio, s, p, q), [ctx.story, ctx.prefs, query], hits)

    def pick(s, evt: gr.SelectData):
        row = evt.row_value or []
        chosen = int(row[0]) if row else None
        return chosen, load_entry(studio, s, chosen)

    table.select(pick, ctx.story, [number, entry])
    hits.select(pick, ctx.story, [number, entry])
    number.submit(lambda s, n: load_entry(studio, s, n), [ctx.story, number], entry)
    ctx.changes(save_btn.click(lambda s, n, t: save_entry(studio, s, n, t), [ctx.story, number, entry],
                               [ctx.story, status], api_name="save_entry"))
    ctx.changes(delete_btn.click(lambda s, n: delete_entry(studio, s, n), [ctx.story, number],
                                 [ctx.story, status], api_name="delete_entry"))
    write = ctx.parts
    show_btn.click(lambda s, p, c, a, b, d, i: next_prompt(studio, s, p, c, a, b, d, i),
                   [ctx.story, ctx.prefs, write["plan_choice"], *write["plan_boxes"], write["instruction"]],
                   [prompt, summary], api_name="next_prompt")

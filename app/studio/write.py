"""The Write tab: the novel centre stage, the next paragraph streaming in,
the three plans (each editable) or a free instruction, Regenerate with every
version kept, Undo, Stop, and the memories beside the text, editable."""

import gradio as gr

from app.studio.render import live_html, novel_html, status_html
from app.studio.session import Studio, story_state, user_errors
from app.studio.streaming import relay
from recurrentgpt.errors import USER_ERRORS, Cancelled

PLAN_CHOICES = [("Plan 1", "1"), ("Plan 2", "2"), ("Plan 3", "3"), ("My own instruction", "custom")]


# -- handlers (plain functions; the tests call them directly) -------------------

def plan_argument(head_plans: list[str], choice: str, plans: list[str], instruction: str) -> str:
    """What to ask the engine for: "1".."3" when the writer kept a plan as the
    model wrote it (recorded as that choice), its edited text when they
    rewrote it, or their own instruction."""
    if choice == "custom":
        if not (instruction or "").strip():
            raise gr.Error("Write your instruction for the next paragraph, or pick one of the plans.")
        return instruction.strip()
    index = int(choice) - 1
    text = (plans[index] or "").strip()
    if not text:
        raise gr.Error(f"Plan {choice} is empty: write what should happen next, or pick another plan.")
    return choice if text == (head_plans[index] or "").strip() else text


def stream_step(studio: Studio, session: str, story: dict, prefs: dict, make_work, label: str):
    """Yield (live, status, story) while `make_work(novel, backend)` runs in a
    worker thread; end with the story's new state, or a stopped / failed
    status (and nothing saved)."""
    with studio.novel(story, prefs, check_version=True) as novel:
        backend = studio.backend(prefs)
        cancel = studio.new_cancel(session)
        work = make_work(novel, backend)
        yield live_html(""), status_html("generating", label), story
        try:
            step = yield from relay(work, cancel, lambda raw: (live_html(raw), status_html("generating", label), story))
        except Cancelled:
            yield "", status_html("stopped", "Stopped; nothing was saved."), story_state(novel)
            return
        except USER_ERRORS as error:
            yield "", status_html("failed", f"Failed: {error}"), story_state(novel)
            raise
        yield "", status_html("ready", f"Paragraph {step.paragraph_count} written."), story_state(novel)


def next_step(studio: Studio, session: str, story: dict, prefs: dict, choice: str,
              plan1: str, plan2: str, plan3: str, instruction: str):
    plans = [plan1, plan2, plan3]
    with studio.novel(story, prefs) as novel:
        plan = plan_argument(novel.head.plans, choice, plans, instruction)

    def make_work(novel, backend):
        return lambda on_text, cancel: novel.write(plan, backend, on_text=on_text, cancel=cancel,
                                                   expected_version=story.get("version"))

    yield from stream_step(studio, session, story, prefs, make_work, "Writing the next paragraph…")


def regenerate(studio: Studio, session: str, story: dict, prefs: dict):
    def make_work(novel, backend):
        return lambda on_text, cancel: novel.write("", backend, on_text=on_text, cancel=cancel, regenerate=True,
                                                   expected_version=story.get("version"))

    yield from stream_step(studio, session, story, prefs, make_work, "Writing another version of the last paragraph…")


def stop(studio: Studio, session: str) -> str:
    if studio.stop(session):
        return status_html("stopped", "Stopping…")
    return status_html("ready", "Nothing is being written.")


def undo(studio: Studio, story: dict) -> tuple[dict, str]:
    with studio.novel(story, check_version=True) as novel, user_errors():
        head = novel.undo(1)
        return story_state(novel), status_html("ready", f"Back to paragraph {head.paragraph_count}; "
                                                        "the undone step is kept in history.")


def switch_version(studio: Studio, story: dict, step_id: int | None) -> tuple[dict, str]:
    if step_id is None:
        return story, status_html("ready", "")
    with studio.novel(story) as novel, user_errors():
        if novel.head.id == int(step_id):
            return story_state(novel), status_html("ready", "")
        novel.switch_to(int(step_id), expected_version=story.get("version"))
        return story_state(novel), status_html("ready", "Showing another version of the last paragraph.")


def save_memory(studio: Studio, story: dict, short_term: str, outline: str) -> tuple[dict, str]:
    """Route the writer's edits into what the model sees next (a recorded step)."""
    with studio.novel(story) as novel, user_errors():
        head = novel.head
        if short_term == head.short_term and outline == head.outline:
            return story, status_html("ready", "The memories are unchanged.")
        if not short_term.strip():
            raise gr.Error("The short-term memory would be empty; write a line or two about the recent story.")
        novel.edit(short_term=short_term, outline=outline, expected_version=story.get("version"))
        return story_state(novel), status_html("ready", "Memories saved; the next step reads them.")


def reload(studio: Studio, story: dict) -> tuple[dict, str]:
    """Catch up with the story: what other tabs wrote, and memory files edited by hand."""
    if not story or not story.get("id"):
        return story, status_html("ready", "")
    with studio.novel(story) as novel, user_errors():
        step = novel.import_edits()
        note = "Reloaded; your edits to the memory files were imported." if step else "Reloaded."
        return story_state(novel), status_html("ready", note)


def versions(novel) -> tuple[list[tuple[str, int]], int | None]:
    alternatives = novel.alternatives()
    if len(alternatives) < 2:
        return [], None
    choices = [(f"Version {i} · {s.created_at:%H:%M:%S}", s.id) for i, s in enumerate(alternatives, start=1)]
    return choices, novel.head.id


def render_write(studio: Studio, novel) -> list:
    """The Write tab's components for the story `novel` (None: no story open)."""
    if novel is None:
        return [novel_html("", {}), "", "", "", "", "", "", gr.update(choices=[], value=None, visible=False)]
    head = novel.head
    plans = (list(head.plans) + ["", "", ""])[:3]
    choices, current = versions(novel)
    return [novel_html(head.title, novel.paragraphs()), "", *plans, head.short_term, head.outline,
            gr.update(choices=choices, value=current, visible=bool(choices))]


# -- layout ----------------------------------------------------------------------

def build_write_tab(ctx) -> None:
    studio = ctx.studio
    with gr.Tab("Write", id="write"):
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                novel = gr.HTML(novel_html("", {}), elem_id="novel", elem_classes="rg-page", max_height=560,
                                autoscroll=True)
                live = gr.HTML("", elem_id="live")
                status = gr.HTML(status_html("ready", ""), elem_id="write-status")
                versions_radio = gr.Radio([], label="Versions of the last paragraph", elem_id="versions",
                                          visible=False)
                choice = gr.Radio(PLAN_CHOICES, value="1", label="What happens next", elem_id="plan-choice")
                plan_boxes = [gr.Textbox(label=f"Plan {i}", lines=2, elem_id=f"plan-{i}") for i in (1, 2, 3)]
                instruction = gr.Textbox(label="My own instruction", lines=2, elem_id="instruction",
                                         placeholder="What should the next paragraph do?")
                with gr.Row():
                    next_btn = gr.Button("Next step", variant="primary", elem_id="next-step")
                    regen_btn = gr.Button("Regenerate", elem_id="regenerate")
                    undo_btn = gr.Button("Undo", elem_id="undo")
                    stop_btn = gr.Button("Stop", variant="stop", elem_id="stop", visible=False)
                    reload_btn = gr.Button("Reload", elem_id="reload", size="sm")
            with gr.Column(scale=2, min_width=300, elem_classes="rg-memory-panel"):
                gr.Markdown("### Memory\nWhat the model reads every step. Edit and save: the next step uses it.")
                short_term = gr.Textbox(label="Short-term memory", lines=8, elem_id="short-term")
                outline = gr.Textbox(label="Outline", lines=8, elem_id="outline")
                save_btn = gr.Button("Save memories", elem_id="save-memory")

    ctx.parts.update(plan_choice=choice, plan_boxes=plan_boxes, instruction=instruction, write_status=status)
    ctx.view([novel, live, *plan_boxes, short_term, outline, versions_radio], lambda n: render_write(studio, n))

    controls = [next_btn, regen_btn, undo_btn, save_btn]

    def lock():
        return [gr.update(interactive=False)] * len(controls) + [gr.update(visible=True)]

    def unlock():
        return [gr.update(interactive=True)] * len(controls) + [gr.update(visible=False)]

    def run_next(story, prefs, choice_value, p1, p2, p3, instr, request: gr.Request):
        yield from next_step(studio, request.session_hash, story, prefs, choice_value, p1, p2, p3, instr)

    def run_regenerate(story, prefs, request: gr.Request):
        yield from regenerate(studio, request.session_hash, story, prefs)

    def run_stop(request: gr.Request):
        return stop(studio, request.session_hash)

    streamed = [live, status, ctx.story]
    for button, fn, inputs, name in (
        (next_btn, run_next, [ctx.story, ctx.prefs, choice, *plan_boxes, instruction], "next_step"),
        (regen_btn, run_regenerate, [ctx.story, ctx.prefs], "regenerate"),
    ):
        event = button.click(lock, None, controls + [stop_btn], queue=False).then(
            fn, inputs, streamed, api_name=name, concurrency_limit=None, show_progress="hidden")
        ctx.changes(event, after=lambda e: e.then(unlock, None, controls + [stop_btn], queue=False))
    stop_btn.click(run_stop, None, status, api_name="stop", concurrency_limit=None)
    ctx.changes(undo_btn.click(lambda s: undo(studio, s), ctx.story, [ctx.story, status], api_name="undo"))
    ctx.changes(versions_radio.input(lambda s, v: switch_version(studio, s, v), [ctx.story, versions_radio],
                                     [ctx.story, status], api_name="switch_version"))
    ctx.changes(save_btn.click(lambda s, st, o: save_memory(studio, s, st, o), [ctx.story, short_term, outline],
                               [ctx.story, status], api_name="save_memory"))
    ctx.changes(reload_btn.click(lambda s: reload(studio, s), ctx.story, [ctx.story, status], api_name="reload"))

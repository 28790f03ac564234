"""The Play tab: interactive fiction in the browser. The path taken so far
with the current scene last, the next scene streaming in, three large
choice buttons, a box for the reader's own action, Back, Stop, the
branches of the story to switch between, the reader's persona (editable),
a new fiction story, and the playthrough as Markdown."""

import tempfile
from pathlib import Path

import gradio as gr

from app.studio.render import esc, live_html, paragraphs_html, status_html
from app.studio.session import Studio, story_state, user_errors
from app.studio.streaming import relay
from memory.ids import slugify
from recurrentgpt.errors import USER_ERRORS, Cancelled
from recurrentgpt.fiction import PlaySession


# -- handlers (plain functions; the tests call them directly) -------------------

def path_html(session: PlaySession | None) -> str:
    """The path taken so far: each action and the scene it led to, the current scene last."""
    if session is None:
        return ('<div class="rg-novel rg-empty">Open a story in the Library, or start a new interactive story '
                'below.</div>')
    scene = session.scene()
    parts = []
    for turn in session.turns():
        action = (f'<p class="rg-action"><span>You</span> {esc(turn.action.strip())}</p>' if turn.number else "")
        current = " rg-current" if turn.number == scene.turn else ""
        parts.append(f'<section class="rg-turn{current}" data-turn="{turn.number}">{action}'
                     f'{paragraphs_html(turn.scene)}</section>')
    where = f"Turn {scene.turn}" + (f" · branch {scene.branch} of {scene.branches}" if scene.branches > 1 else "")
    return (f'<article class="rg-novel rg-play"><h1 class="rg-title">{esc(scene.title)}</h1>'
            f'<div class="rg-where" data-turn="{scene.turn}" data-branch="{scene.branch}">{esc(where)}</div>'
            f'{"".join(parts)}</article>')


def branch_choices(session: PlaySession) -> tuple[list[tuple[str, int]], int | None]:
    """The branches as (label, number), and the one the reader is on."""
    choices, current = [], None
    for b in session.branches():
        origin = "from the opening" if b.forks_at is None else f"from turn {b.forks_at}: {_short(b.first_action)}"
        choices.append((f"Branch {b.number} · {b.turns} turn(s) · {origin}", b.number))
        if b.here and current is None:
            current = b.number
    return choices, current


def _short(text: str, limit: int = 48) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def render_play(novel) -> list:
    """The Play tab's components for `novel` (None: no story open):
    path, three choice buttons, Back, branches, persona."""
    if novel is None:
        hidden = gr.update(value="", visible=False)
        return [path_html(None), hidden, hidden, hidden, gr.update(interactive=False),
                gr.update(choices=[], value=None, visible=False), ""]
    session = PlaySession(novel)
    scene = session.scene()
    choices = (list(scene.choices) + ["", "", ""])[:3]
    buttons = [gr.update(value=text.strip(), visible=bool(text.strip())) for text in choices]
    branches, current = branch_choices(session)
    return [path_html(session), *buttons, gr.update(interactive=scene.can_go_back),
            gr.update(choices=branches, value=current, visible=len(branches) > 1), scene.persona]


def stream_turn(studio: Studio, session_hash: str, story: dict, prefs: dict, action: str):
    """Yield (live, status, story) while the model writes the scene for
    `action` (1, 2, 3 or the reader's words); nothing is saved if it stops
    or fails."""
    action = (action or "").strip()
    if not action:
        raise gr.Error("Write what you do, or take one of the three choices.")
    label = "Writing what happens…"
    with studio.novel(story, prefs, check_version=True) as novel:
        with user_errors():
            backend = studio.backend(prefs)
        play = PlaySession(novel, backend)
        cancel = studio.new_cancel(session_hash)
        yield live_html(""), status_html("generating", label), story
        try:
            scene = yield from relay(lambda on_text, cancel: play.act(action, on_text=on_text, cancel=cancel), cancel,
                                     lambda raw: (live_html(raw), status_html("generating", label), story))
        except Cancelled:
            yield "", status_html("stopped", "Stopped; nothing was saved."), story_state(novel)
            return
        except USER_ERRORS as error:
            yield "", status_html("failed", f"Failed: {error}"), story_state(novel)
            return
        yield "", status_html("ready", f"Turn {scene.turn}."), story_state(novel)


def choose(studio: Studio, session_hash: str, story: dict, prefs: dict, number: int):
    yield from stream_turn(studio, session_hash, story, prefs, str(number))


def free_action(studio: Studio, session_hash: str, story: dict, prefs: dict, action: str):
    yield from stream_turn(studio, session_hash, story, prefs, action)


def back(studio: Studio, story: dict) -> tuple[dict, str]:
    with studio.novel(story, check_version=True) as novel, user_errors():
        scene = PlaySession(novel).back(1)
        return story_state(novel), status_html("ready", f"Back at turn {scene.turn}; what you did after it is "
                                                        "kept as a branch.")


def switch_branch(studio: Studio, story: dict, number: int | None) -> tuple[dict, str]:
    if number is None:
        return story, status_html("ready", "")
    with studio.novel(story, check_version=True) as novel, user_errors():
        scene = PlaySession(novel).switch(int(number))  # to the branch's end, even from inside it
        return story_state(novel), status_html("ready", f"On branch {number}, turn {scene.turn}.")


def save_persona(studio: Studio, story: dict, persona: str) -> tuple[dict, str]:
    with studio.novel(story) as novel, user_errors():
        PlaySession(novel).set_persona(persona or "")
        return story_state(novel), status_html("ready", "Saved; every turn from now on is written for you as "
                                                        "you describe yourself.")


def export_playthrough(studio: Studio, story: dict) -> str:
    """The path taken, as a Markdown file to download; its path."""
    with studio.novel(story) as novel, user_errors():
        text = PlaySession(novel).playthrough_markdown()
        folder = Path(tempfile.mkdtemp(prefix="rg-play-"))
        path = folder / f"{slugify(novel.info.title) or novel.id}-playthrough.md"
        path.write_text(text, encoding="utf-8")
        return str(path)


def start_fiction(studio: Studio, session_hash: str, prefs: dict, premise: str, genre: str, persona: str,
                  lang: str = "en"):
    """Yield (live, status, story) while the model writes the opening scene
    of a new interactive story for the reader `persona`."""
    if not (premise or "").strip():
        raise gr.Error("Write the premise: a sentence or two about where the story begins.")
    with user_errors():
        backend = studio.backend(prefs)
    cancel = studio.new_cancel(session_hash)

    def work(on_text, cancel):
        novel = studio.library.start(premise=premise, genre=genre or "", lang=lang or "en", mode="fiction",
                                     persona=persona or "", backend=backend, on_text=on_text, cancel=cancel)
        novel.close()
        return novel

    label = "Writing the opening scene…"
    empty = {"id": None, "version": None}
    yield live_html(""), status_html("generating", label), empty
    try:
        novel = yield from relay(work, cancel, lambda raw: (live_html(raw), status_html("generating", label), empty))
    except Cancelled:
        yield "", status_html("stopped", "Stopped; no story was created."), empty
        return
    except USER_ERRORS as error:
        yield "", status_html("failed", f"Failed: {error}"), empty
        return
    yield "", status_html("ready", "Your story begins."), story_state(novel)


# -- layout ----------------------------------------------------------------------

PLAY_CSS = """<style>
.rg-choice { min-height: 3.4rem; font-size: 1.05rem !important; text-align: left !important;
  white-space: normal !important; justify-content: flex-start !important; }
.rg-play .rg-turn { margin-bottom: 1.2rem; }
.rg-play .rg-turn p { margin: 0 0 .8rem; }
.rg-play .rg-current { border-left: 3px solid var(--color-accent); padding-left: .9rem; }
.rg-action { font-style: italic; color: var(--body-text-color-subdued); }
.rg-action span { font-style: normal; font-weight: 600; margin-right: .4rem; }
.rg-where { text-align: center; font: .85rem/1.4 sans-serif; color: var(--body-text-color-subdued);
  margin: -.8rem 0 1rem; }
</style>"""

def build_play_tab(ctx) -> None:
    studio = ctx.studio
    with gr.Tab("Play", id="play"):
        gr.HTML(PLAY_CSS, padding=False)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                path = gr.HTML(path_html(None), elem_id="play-path", elem_classes="rg-page", max_height=560,
                               autoscroll=True)
                live = gr.HTML("", elem_id="play-live")
                status = gr.HTML(status_html("ready", ""), elem_id="play-status")
                choice_buttons = [gr.Button("", visible=False, size="lg", elem_id=f"play-choice-{i}",
                                            elem_classes="rg-choice") for i in (1, 2, 3)]
                with gr.Row():
                    action = gr.Textbox(show_label=False, placeholder="Or write what you do…", scale=4,
                                        elem_id="play-action")
                    act_btn = gr.Button("Do it", variant="primary", scale=1, elem_id="play-act")
                with gr.Row():
                    back_btn = gr.Button("Back one turn", interactive=False, elem_id="play-back")
                    stop_btn = gr.Button("Stop", variant="stop", visible=False, elem_id="play-stop")
                    export_btn = gr.Button("Export playthrough", elem_id="play-export")
                download = gr.File(label="Playthrough (Markdown)", visible=False, elem_id="play-download")
            with gr.Column(scale=2, min_width=300):
                branches = gr.Radio([], label="Branches", elem_id="play-branches", visible=False)
                persona = gr.Textbox(label="You, the reader (a name to be called by, stories you love, tone, "
                                           "anything to keep out)", lines=4, elem_id="play-persona")
                persona_btn = gr.Button("Save who I am", elem_id="play-save-persona")
                with gr.Accordion("New interactive story", open=False):
                    premise = gr.Textbox(label="Where does it begin?", lines=3, elem_id="play-premise")
                    genre = gr.Textbox(label="Genre (optional)", elem_id="play-genre")
                    new_persona = gr.Textbox(label="You, the reader", lines=3, elem_id="play-new-persona")
                    lang = gr.Radio([("English", "en"), ("中文", "zh")], value="en", label="Language")
                    start_btn = gr.Button("Start playing", variant="primary", elem_id="play-start")

    ctx.view([path, *choice_buttons, back_btn, branches, persona], render_play)

    # Back stays as rendered (off at the opening); a Back during a turn is refused as a change elsewhere.
    controls = [*choice_buttons, act_btn, start_btn]

    def lock():
        return [gr.update(interactive=False)] * len(controls) + [gr.update(visible=True)]

    def unlock():
        return [gr.update(interactive=True)] * len(controls) + [gr.update(visible=False)]

    def run_choice(number):
        def run(story, prefs, request: gr.Request):
            yield from choose(studio, request.session_hash, story, prefs, number)
        return run

    def run_action(story, prefs, text, request: gr.Request):
        # The box keeps the reader's words until their turn is saved.
        version = (story or {}).get("version")
        for live_value, status_value, new_story in free_action(studio, request.session_hash, story, prefs, text):
            yield live_value, status_value, new_story, gr.update()
        if new_story.get("version") != version and 'data-state="ready"' in status_value:
            yield live_value, status_value, new_story, ""

    def run_start(prefs, text, genre_text, who, language, request: gr.Request):
        yield from start_fiction(studio, request.session_hash, prefs, text, genre_text, who, language)

    streamed = [live, status, ctx.story]
    runs = [([button.click], run_choice(i), [ctx.story, ctx.prefs], streamed, f"play_choice_{i}")
            for i, button in enumerate(choice_buttons, start=1)]
    runs.append(([act_btn.click, action.submit], run_action, [ctx.story, ctx.prefs, action], streamed + [action],
                 "play_action"))
    runs.append(([start_btn.click], run_start, [ctx.prefs, premise, genre, new_persona, lang], streamed,
                 "play_start"))
    for triggers, fn, inputs, outputs, name in runs:
        event = gr.on(triggers, lock, None, controls + [stop_btn], queue=False).then(
            fn, inputs, outputs, api_name=name, concurrency_limit=None)
        ctx.changes(event, after=lambda e: e.then(unlock, None, controls + [stop_btn], queue=False))

    def run_stop(request: gr.Request):
        if studio.stop(request.session_hash):
            return status_html("stopped", "Stopping…")
        return status_html("ready", "Nothing is being written.")

    stop_btn.click(run_stop, None, status, api_name="play_stop", concurrency_limit=None)
    ctx.changes(back_btn.click(lambda s: back(studio, s), ctx.story, [ctx.story, status], api_name="play_back"))
    ctx.changes(branches.input(lambda s, n: switch_branch(studio, s, n), [ctx.story, branches],
                               [ctx.story, status], api_name="play_switch_branch"))
    ctx.changes(persona_btn.click(lambda s, p: save_persona(studio, s, p), [ctx.story, persona],
                                  [ctx.story, status], api_name="play_save_persona"))
    export_btn.click(lambda s: gr.update(value=export_playthrough(studio, s), visible=True), ctx.story, download,
                     api_name="play_export")

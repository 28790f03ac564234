"""The Auto tab: N steps with the AI user choosing (and maybe revising) each
plan, a progress bar, each paragraph shown as it lands, Stop at any time
(the step being written is dropped; the ones before it are kept)."""

import gradio as gr

from app.studio.render import feed_html, live_html, progress_html, status_html
from app.studio.session import Studio, story_state
from app.studio.streaming import relay
from recurrentgpt.errors import USER_ERRORS, Cancelled

MAX_STEPS = 50


def auto_run(studio: Studio, session: str, story: dict, prefs: dict, steps):
    """Yield (progress, feed, status, story) through `steps` AI-user steps."""
    total = int(steps or 0)
    if not 1 <= total <= MAX_STEPS:
        raise gr.Error(f"Choose between 1 and {MAX_STEPS} steps.")
    landed: list[tuple[int, str]] = []
    with studio.novel(story, prefs, check_version=True) as novel:
        backend = studio.backend(prefs)
        cancel = studio.new_cancel(session)
        for done in range(total):
            label = f"Step {done + 1} of {total}: the AI user is choosing a plan…"
            yield progress_html(done, total, label), feed_html(landed, live_html("")), \
                status_html("generating", label), story

            def work(on_text, cancel):
                return novel.write("auto", backend, on_text=on_text, cancel=cancel)

            def writing(raw, done=done):
                label = f"Step {done + 1} of {total}: writing…"
                return (progress_html(done, total, label), feed_html(landed, live_html(raw)),
                        status_html("generating", label), story)

            try:
                step = yield from relay(work, cancel, writing)
            except Cancelled:
                story = story_state(novel)
                yield progress_html(done, total, "Stopped"), feed_html(landed), \
                    status_html("stopped", f"Stopped after {done} of {total} steps; the unfinished one was not saved."), story
                return
            except USER_ERRORS as error:
                story = story_state(novel)
                yield progress_html(done, total, "Failed"), feed_html(landed), \
                    status_html("failed", f"Failed at step {done + 1}: {error}"), story
                raise
            story = story_state(novel)
            number = max(novel.paragraphs()) if step.paragraph_count else 0
            landed.append((number, step.parsed.get("Paragraph", "")))
            yield progress_html(done + 1, total), feed_html(landed), \
                status_html("generating", f"Step {done + 1} of {total} done (plan: {step.choice})."), story
        yield progress_html(total, total, "Done"), feed_html(landed), \
            status_html("ready", f"Wrote {total} steps."), story


def build_auto_tab(ctx) -> None:
    studio = ctx.studio
    with gr.Tab("Auto", id="auto"):
        gr.Markdown("### Let the AI user steer\nEach step, an AI reader picks one of the three plans "
                    "(sometimes rewriting it) and the model writes on. Stop whenever you like.")
        with gr.Row():
            steps = gr.Slider(1, MAX_STEPS, value=3, step=1, label="Steps", elem_id="auto-steps", scale=3)
            run_btn = gr.Button("Run", variant="primary", elem_id="auto-run", scale=1)
            stop_btn = gr.Button("Stop", variant="stop", elem_id="auto-stop", scale=1, visible=False)
        progress = gr.HTML(progress_html(0, 1, "Not running"), elem_id="auto-progress")
        status = gr.HTML(status_html("ready", ""), elem_id="auto-status")
        feed = gr.HTML(feed_html([]), elem_id="auto-feed", elem_classes="rg-page", max_height=560, autoscroll=True)

    def run(story, prefs, n, request: gr.Request):
        yield from auto_run(studio, request.session_hash, story, prefs, n)

    def halt(request: gr.Request):
        studio.stop(request.session_hash)
        return status_html("stopped", "Stopping…")

    event = run_btn.click(lambda: (gr.update(interactive=False), gr.update(visible=True)), None,
                          [run_btn, stop_btn], queue=False).then(
        run, [ctx.story, ctx.prefs, steps], [progress, feed, status, ctx.story], api_name="auto_run",
        concurrency_limit=None, show_progress="hidden")
    ctx.changes(event, after=lambda e: e.then(lambda: (gr.update(interactive=True), gr.update(visible=False)),
                                              None, [run_btn, stop_btn], queue=False))
    stop_btn.click(halt, None, status, api_name="auto_stop", concurrency_limit=None)

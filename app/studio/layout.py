"""The studio's page: a header and the tabs. A tab is a function
`build_xxx_tab(ctx)`; adding one (Play, Bible) means adding it to `TABS`.

A tab registers what it shows of the open story with `ctx.view(outputs,
render)` and the events that change the story with `ctx.changes(event)`;
after each such event every registered view re-renders from the database,
once, so the tabs never need to know about each other.
"""

from typing import Callable

import gradio as gr

from app.studio.auto_tab import build_auto_tab
from app.studio.bible import build_bible_tab
from app.studio.library_tab import build_library_tab
from app.studio.memory_tab import build_memory_tab
from app.studio.play import build_play_tab
from app.studio.session import Studio, no_story
from app.studio.settings_tab import build_settings_tab
from app.studio.write import build_write_tab
from memory.errors import StoryNotFound

# The order of the tabs on the page. Write before Memory: Memory's prompt view
# reads the plan chosen on the Write tab (ctx.parts).
TABS: list[Callable] = [build_library_tab, build_write_tab, build_memory_tab, build_auto_tab, build_play_tab,
                        build_bible_tab, build_settings_tab]

HEADER = ('<header class="rg-header"><span class="rg-mark">RecurrentGPT</span>'
          '<span class="rg-tagline">a writing studio with a memory</span></header>')


class StudioPage:
    """What the tab builders share while the page is being built."""

    def __init__(self, studio: Studio):
        self.studio = studio
        self.story = gr.State(no_story())  # {"id", "version"}: the open story and the version seen
        self.prefs = gr.State({})  # this session's settings overrides
        self.tabs: gr.Tabs | None = None
        self.parts: dict = {}  # components one tab lends another, by name
        self._views: list[tuple[list, Callable]] = []
        self._changes: list[tuple[object, Callable | None]] = []

    def view(self, outputs: list, render: Callable) -> None:
        """`render(novel or None)` returns values for `outputs`."""
        self._views.append((list(outputs), render))

    def changes(self, event, after: Callable | None = None):
        """Re-render every view after `event`; then `after(dependency)`."""
        self._changes.append((event, after))
        return event

    @property
    def outputs(self) -> list:
        return [c for outputs, _ in self._views for c in outputs]

    def render_all(self, story: dict) -> list:
        values: list = []
        novel = None
        if story and story.get("id"):
            try:
                novel = self.studio.library.open(story["id"])
            except StoryNotFound:  # deleted in another session
                novel = None
        try:
            for _, render in self._views:
                values.extend(render(novel))
        finally:
            if novel is not None:
                novel.close()
        return values

    def wire(self, demo: gr.Blocks) -> None:
        outputs = self.outputs
        for event, after in self._changes:
            # Our own status lines say what is happening; Gradio's overlays would cover the text.
            rendered = event.then(self.render_all, self.story, outputs, queue=False, show_progress="hidden")
            if after is not None:
                after(rendered)
        demo.load(self.render_all, self.story, outputs, queue=False, show_progress="hidden")


def build_studio(studio: Studio, tabs: list[Callable] | None = None) -> gr.Blocks:
    with gr.Blocks(title="RecurrentGPT studio") as demo:
        page = StudioPage(studio)
        gr.HTML(HEADER)
        with gr.Tabs(selected="library", elem_id="tabs") as page.tabs:
            for build in tabs or TABS:
                build(page)
        page.wire(demo)
    return demo

"""What one browser session holds, and how a handler reaches the engine.

A session keeps only small values in `gr.State`: which story it has open and
the story version it last saw (for "changed elsewhere"), plus its own
settings overrides. The model, the database and the embedder live once per
process in the `Studio`; a `Novel` is opened per request and closed after,
so two sessions never share mutable engine objects.
"""

import html
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

import gradio as gr

from memory.errors import ConcurrentEdit
from recurrentgpt.errors import USER_ERRORS, Cancelled
from recurrentgpt.library import Library
from recurrentgpt.novel import Novel
from recurrentgpt.settings import Settings

# The settings a session may override (never the data home or the database).
SESSION_SETTINGS = ("backend", "base_url", "api_key", "model", "local_model", "device", "temperature",
                    "max_tokens", "retrieval_k")

CHANGED_ELSEWHERE = ("This story was changed elsewhere (another tab, window or the command line) since you "
                     "loaded it; nothing was saved. Press Reload to see the latest version, then try again.")


def no_story() -> dict:
    return {"id": None, "version": None}


def story_state(novel: Novel) -> dict:
    return {"id": novel.id, "version": novel.refresh().version}


@dataclass
class Studio:
    """Everything the handlers share: the library and the Stop switches."""

    library: Library
    # One Stop switch per browser session (gr.Request.session_hash): the
    # running generation of that session watches it.
    _cancels: dict[str, threading.Event] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def settings(self, prefs: dict | None) -> Settings:
        """The process settings with this session's overrides on top."""
        base = self.library.settings
        update = {k: v for k, v in (prefs or {}).items() if k in SESSION_SETTINGS and v not in (None, "")}
        # Validated like any settings, so a bad value fails when saved, not at the next step.
        return Settings.model_validate({**dict(base), **update}) if update else base

    def backend(self, prefs: dict | None):
        from recurrentgpt.backends import create_backend

        return create_backend(self.settings(prefs))

    def new_cancel(self, session: str) -> threading.Event:
        with self._lock:
            event = self._cancels[session] = threading.Event()
            return event

    def stop(self, session: str) -> bool:
        with self._lock:
            event = self._cancels.get(session)
        if event is None:
            return False
        event.set()
        return True

    @contextmanager
    def novel(self, story: dict | None, prefs: dict | None = None, *, check_version: bool = False):
        """Open the session's story for one request. With `check_version`,
        refuse when someone else moved the story since the session saw it."""
        if not story or not story.get("id"):
            raise gr.Error("Open a story in the Library first (or start a new one).")
        with user_errors():
            novel = self.library.open(story["id"])
            novel.settings = self.settings(prefs)  # retrieval k and repairs follow the session
            if check_version and story.get("version") is not None and novel.info.version != story["version"]:
                raise ConcurrentEdit(CHANGED_ELSEWHERE)
            try:
                yield novel
            finally:
                novel.close()


@contextmanager
def user_errors():
    """Show the engine's user-facing errors in the page, not as a crash."""
    try:
        yield
    except gr.Error:
        raise
    except ConcurrentEdit as error:
        raise gr.Error(message(error if CHANGED_ELSEWHERE in str(error) else CHANGED_ELSEWHERE),
                       title="Changed elsewhere") from None
    except Cancelled as error:
        raise gr.Error(message(error), title="Stopped") from None
    except USER_ERRORS as error:
        raise gr.Error(message(error)) from None


def message(error: BaseException | str) -> str:
    # gr.Error renders HTML; our messages may quote story text.
    return html.escape(str(error), quote=False)

"""The library: every story in a data home, and starting new ones."""

from __future__ import annotations

import shutil
import threading
from dataclasses import asdict
from functools import cached_property

from memory.database import Database
from memory.embedder import Embedder, shared_embedder
from memory.files import StoryFolder
from memory.locks import story_lock
from memory.store import StepDraft, StoryInfo, StoryStore
from recurrentgpt import prompts
from recurrentgpt.backends import Backend, create_backend
from recurrentgpt.backends.base import TextCallback
from recurrentgpt.errors import RecurrentGPTError
from recurrentgpt.novel import Novel
from recurrentgpt.parsing import STORY_START
from recurrentgpt.replies import ask
from recurrentgpt.settings import Settings

MODES = ("novel", "fiction")


class Library:
    def __init__(self, settings: Settings | None = None, *, embedder: Embedder | None = None):
        self.settings = settings or Settings.from_env()
        self.settings.home.mkdir(parents=True, exist_ok=True)
        self.db = Database(self.settings.db_url)
        self.store = StoryStore(self.db)
        self._embedder = embedder

    @cached_property
    def embedder(self) -> Embedder:
        return self._embedder or shared_embedder()

    def backend(self) -> Backend:
        return create_backend(self.settings)

    def stories(self) -> list[StoryInfo]:
        return self.store.stories()

    def open(self, story_id: str) -> Novel:
        return Novel(self, story_id)

    def delete(self, story_id: str) -> None:
        folder = StoryFolder(self.settings.home, story_id)
        self.store.delete_story(story_id)
        shutil.rmtree(folder.root, ignore_errors=True)
        for suffix in (".faiss", ".json"):
            (self.settings.home / "index" / f"{story_id}{suffix}").unlink(missing_ok=True)

    def start(self, *, premise: str, backend: Backend, title: str = "", genre: str = "", lang: str = "en",
              mode: str = "novel", persona: str = "", story_id: str | None = None,
              on_text: TextCallback | None = None, cancel: threading.Event | None = None) -> Novel:
        """Ask the model for a title, an outline, the opening paragraph, the
        short-term memory and three plans, and record them as the first step."""
        if not premise.strip():
            raise RecurrentGPTError("The premise is empty: say in a sentence or two what the story is about.")
        if lang not in prompts.LANGUAGES:
            raise RecurrentGPTError(f"Unknown language {lang!r}; choose one of {', '.join(prompts.LANGUAGES)}.")
        if mode not in MODES:
            raise RecurrentGPTError(f"Unknown mode {mode!r}; choose one of {', '.join(MODES)}.")
        messages = prompts.start_messages(premise=premise, genre=genre, title=title, lang=lang, mode=mode,
                                          persona=persona, memory_words=self.settings.short_term_words)
        answer = ask(backend, messages, STORY_START, lang=lang, repairs=self.settings.repair_attempts,
                     on_text=on_text, cancel=cancel)
        sections = answer.sections
        title = title.strip() or sections["Title"].strip().strip('"*#').strip()
        story_id = story_id or self.store.new_story_id(title)
        draft = StepDraft(kind="start", title=title, outline=sections["Outline"], short_term=sections["Memory"],
                          plans=[sections["Plan 1"], sections["Plan 2"], sections["Plan 3"]],
                          paragraphs={1: sections["Paragraph"]})
        draft.extras = {"instruction": premise, "choice": "start", "prompt": [asdict(m) for m in messages],
                        "raw_output": answer.raw, "parsed": dict(sections.found), "backend": backend.describe(),
                        "model": answer.model, "prompt_tokens": answer.prompt_tokens,
                        "completion_tokens": answer.completion_tokens, "timings": {"model_s": answer.seconds}}
        # The story and its first step land in one transaction: a crash leaves no story without a head.
        self.store.create_story(story_id, draft, title=title, premise=premise.strip(), genre=genre, lang=lang,
                                mode=mode, persona=persona.strip())
        novel = Novel(self, story_id)
        with story_lock(novel.folder.root):
            novel.files.write_all(novel.refresh(), novel.head)
        return novel

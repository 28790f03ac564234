"""The step engine for one story: start, write a step, regenerate, undo,
switch branch, and import hand edits. The database is the truth; memory
files and the vector index follow it.

A step reads the files back (hand edits become a recorded manual-edit
step), builds the bounded context, asks the model (with repairs), and then,
under the story lock, commits only if nobody moved the story meanwhile.
Anything that fails before the commit leaves the story exactly as it was.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict
from typing import TYPE_CHECKING

from memory.errors import ConcurrentEdit, StoryNotFound
from memory.files import StoryFolder
from memory.locks import story_lock
from memory.long_term import LongTermMemory
from memory.store import StepDraft, StepRecord, StoryInfo, StoryStore
from memory.sync import MemorySync
from recurrentgpt import prompts
from recurrentgpt.backends.base import Backend, TextCallback
from recurrentgpt.bible import StoryBible
from recurrentgpt.context import (
    MAX_OUTLINE_CHARS, MAX_PASSAGE_CHARS, MAX_PLAN_CHARS, MAX_PREVIOUS_CHARS, MAX_SHORT_TERM_CHARS,
    StepContext, clip, retrieval_queries,
)
from recurrentgpt.errors import Cancelled, RecurrentGPTError
from recurrentgpt.parsing import CHOICE, STEP, parse_choice
from recurrentgpt.replies import ask

if TYPE_CHECKING:
    from recurrentgpt.library import Library


class Novel:
    """One story, opened for writing."""

    def __init__(self, library: "Library", story_id: str):
        self.library = library
        self.settings = library.settings
        self.store: StoryStore = library.store
        self.info: StoryInfo = self.store.story(story_id)
        self.id = self.info.id
        self.folder = StoryFolder(self.settings.home, self.id)
        self.files = MemorySync(self.store, self.folder)
        self.long_term = LongTermMemory(self.store, library.embedder, self.settings.home / "index", self.id)
        self.bible = StoryBible(self.folder, library.embedder, self.settings.home / "index", self.settings)

    # -- reading ---------------------------------------------------------------

    def refresh(self) -> StoryInfo:
        self.info = self.store.story(self.id)
        return self.info

    @property
    def head(self) -> StepRecord:
        return self.store.head(self.id)

    def paragraphs(self) -> dict[int, str]:
        return self.store.paragraphs(self.id)

    def alternatives(self) -> list[StepRecord]:
        """The written versions of the head's step (the head among them), oldest first."""
        head = self.head
        if head.parent_id is None or head.kind != "write":
            return [head]
        return [s for s in self.store.children(head.parent_id) if s.kind == "write"]

    # -- hand edits ----------------------------------------------------------------

    def import_edits(self) -> StepRecord | None:
        """Record what was edited by hand in the memory files as a manual-edit
        step; rewrite the files if a crash left them behind the database."""
        with story_lock(self.folder.root):
            return self._import_edits_locked()

    def _import_edits_locked(self) -> StepRecord | None:
        info = self.refresh()
        head = self.store.step(info.head_step_id)
        if not self.files.files_current(info):
            self.files.write_all(info, head)
            return None
        draft, changes = self.files.read_edits(info, head)
        if draft is None:
            if changes.marks:
                self.files.accept_edits(head.id, changes)
            return None
        premise = draft.extras["parsed"]["premise"]
        step = self.store.commit_step(self.id, head.id, info.version, draft)
        if premise != info.premise:
            self.store.update_story(self.id, premise=premise)
        self.files.accept_edits(step.id, changes)
        if draft.title != head.title or premise != info.premise:
            self.files.write_all(self.refresh(), step)  # story.md carries the title
        elif draft.paragraphs:
            self.files.write_novel(step)  # paragraphs edited, added or deleted by hand
        self.refresh()
        changed_ids = self.store.live_paragraph_ids_for(self.id, list(draft.paragraphs))
        self._index_follow(step.id, {n: changed_ids.get(n) for n in draft.paragraphs}, previous=head.id)
        return step

    def edit(self, *, short_term: str | None = None, outline: str | None = None, title: str | None = None,
             plans: list[str] | None = None, paragraphs: dict[int, str | None] | None = None,
             expected_version: int | None = None) -> StepRecord:
        """A manual edit from the studio, recorded as a step like a hand-edited file."""
        with story_lock(self.folder.root):
            self._import_edits_locked()
            info = self.refresh()
            if expected_version is not None and expected_version != info.version:
                raise ConcurrentEdit(f"Story {self.id!r} was changed elsewhere; reload it and edit again.")
            head = self.store.step(info.head_step_id)
            draft = StepDraft(kind="edit", title=title if title is not None else head.title,
                              outline=outline if outline is not None else head.outline,
                              short_term=short_term if short_term is not None else head.short_term,
                              plans=plans if plans is not None else list(head.plans),
                              paragraphs=dict(paragraphs or {}))
            for number, text in draft.paragraphs.items():
                if text is not None and not text.strip():
                    raise RecurrentGPTError(f"Paragraph {number} would be empty; delete it instead.")
            draft.extras = {"instruction": "Edited in the studio", "choice": "manual"}
            step = self.store.commit_step(self.id, head.id, info.version, draft)
            self.files.write_step(info, head, step, draft.paragraphs)
            self.refresh()
            ids = self.store.live_paragraph_ids_for(self.id, list(draft.paragraphs))
            self._index_follow(step.id, {n: ids.get(n) for n in draft.paragraphs}, previous=head.id)
            return step

    # -- the step ------------------------------------------------------------------

    def plan_text(self, plan: str) -> tuple[str, str]:
        """(instruction, choice label) for a plan given as 1|2|3 or free text."""
        plan = plan.strip()
        if plan in ("1", "2", "3"):
            return self.head.plans[int(plan) - 1], plan
        if not plan:
            raise RecurrentGPTError("The plan is empty: give 1, 2, 3, auto, or an instruction.")
        return plan, "custom"

    def context(self, instruction: str, head: StepRecord | None = None, *, replacing: int | None = None) -> StepContext:
        """The exact prompt the next step sends for `instruction`. With
        `replacing` (regenerate), as if paragraph `replacing`, the last one,
        were not written yet: `head` is then the step before it."""
        head = head or self.head
        info = self.info
        last = self.store.last_paragraph(self.id, below=replacing)
        exclude = ({last[0]} if last else set()) | ({replacing} if replacing else set())
        short_term = clip(head.short_term, MAX_SHORT_TERM_CHARS)
        plan = clip(instruction, MAX_PLAN_CHARS)
        retrieved = self._recall(plan, short_term, self.info.head_step_id, exclude=exclude)
        passages = self.store.paragraphs(self.id, [n for n, _ in retrieved])
        previous = clip(last[1], MAX_PREVIOUS_CHARS) if last else ""
        # The bible files are read (and validated) here, before every step.
        bible = self.bible.select(plan=plan, recent=previous, short_term=short_term)
        messages = prompts.step_messages(
            title=head.title, premise=clip(info.premise, 1000), genre=info.genre,
            outline=clip(head.outline, MAX_OUTLINE_CHARS), short_term=short_term,
            retrieved=[clip(passages[n], MAX_PASSAGE_CHARS) for n, _ in retrieved],
            previous=previous, plan=plan,
            lang=info.lang, mode=info.mode, persona=info.persona, memory_words=self.settings.short_term_words,
            bible=bible.text,
        )
        return StepContext(messages, plan, retrieved, bible=bible.record())

    def _recall(self, plan: str, short_term: str, head_id: int, exclude: set[int]) -> list[tuple[int, float]]:
        self.long_term.sync(head_id)
        return self.long_term.search(retrieval_queries(plan, short_term), self.settings.retrieval_k, exclude)

    def choose_plan(self, backend: Backend, cancel: threading.Event | None = None) -> tuple[str, str]:
        """The AI user picks (and may revise) one of the three plans: (instruction, choice label)."""
        head = self.head
        last = self.store.last_paragraph(self.id)
        messages = prompts.choose_messages(
            title=head.title, outline=clip(head.outline, MAX_OUTLINE_CHARS),
            short_term=clip(head.short_term, MAX_SHORT_TERM_CHARS),
            previous=clip(last[1], MAX_PREVIOUS_CHARS) if last else "", plans=head.plans,
            lang=self.info.lang, mode=self.info.mode, persona=self.info.persona, genre=self.info.genre,
        )
        answer = ask(backend, messages, CHOICE, lang=self.info.lang, repairs=self.settings.repair_attempts,
                     cancel=cancel,
                     validate=lambda s: [] if parse_choice(s) else ["Choice (the number 1, 2 or 3)"])
        choice = parse_choice(answer.sections)
        revised = answer.sections.get("Revised plan").strip()
        return (revised or head.plans[choice - 1]), f"auto:{choice}"

    def write(self, plan: str, backend: Backend, *, on_text: TextCallback | None = None,
              cancel: threading.Event | None = None, regenerate: bool = False,
              expected_version: int | None = None) -> StepRecord:
        """Write one step following `plan` (1|2|3|auto|instruction). With
        `regenerate`, write the head step again from its parent, keeping the
        old version as an alternative. With `expected_version` (the version
        the writer saw), refuse with ConcurrentEdit if the story has changed
        since."""
        timings: dict[str, float] = {}
        started = time.perf_counter()
        if expected_version is not None and self.refresh().version != expected_version:
            raise ConcurrentEdit(f"Story {self.id!r} was changed elsewhere; reload it and try again.")
        self.import_edits()
        info = self.refresh()
        head = self.head
        replacing = None
        if regenerate:
            if head.kind != "write" or head.parent_id is None:
                raise RecurrentGPTError("Only a written step can be regenerated; write a step first.")
            instruction, choice = head.instruction, head.choice
            # Written again from the head's parent, as a sibling; the head stays
            # where it is until the new version commits, so nothing moves if it fails.
            base = self.store.step(head.parent_id)
            replacing = next(n for _, n, _ in self.store.step_paragraphs(self.id, [head.id]))
        else:
            base = head
            if plan.strip().lower() == "auto":
                t = time.perf_counter()
                instruction, choice = self.choose_plan(backend, cancel)
                timings["choose_s"] = time.perf_counter() - t
            else:
                instruction, choice = self.plan_text(plan)
        step = self._write_from(info, head, base, replacing, instruction, choice, backend, on_text, cancel,
                                timings, started)
        if self.settings.suggests_bible and not (cancel is not None and cancel.is_set()):
            self.suggest_entry(step, backend)
        return step

    def suggest_entry(self, step: StepRecord, backend: Backend):
        """One short model call after a step that names someone or something
        new: a bible entry proposal, kept as a pending suggestion
        (`memory/bible-suggestions/`) for the writer to accept, edit or reject.
        None when nothing new was named; a failed proposal never fails the step."""
        from memory.errors import StorageError
        from recurrentgpt.bible import propose

        paragraph = step.parsed.get("Paragraph", "")
        last = self.store.last_paragraph(self.id)
        before = self.store.paragraphs(self.id, [last[0] - 1]) if last else {}
        known = "\n".join([self.info.premise, step.outline, step.instruction,
                            self.store.step(step.parent_id).short_term if step.parent_id else "",
                            *before.values()])
        try:
            return propose(backend, self.bible.files, paragraph, known, self.info.lang)
        except (RecurrentGPTError, StorageError, ValueError):
            return None

    def _write_from(self, info, shown, base, replacing, instruction, choice, backend, on_text, cancel, timings,
                    started) -> StepRecord:
        """Write a step from `base` while the story shows `shown` (the head:
        the same step, or for a regenerate the version being replaced)."""
        t = time.perf_counter()
        context = self.context(instruction, base, replacing=replacing)
        timings["context_s"] = time.perf_counter() - t
        t = time.perf_counter()
        answer = ask(backend, context.messages, STEP, lang=info.lang, repairs=self.settings.repair_attempts,
                     on_text=on_text, cancel=cancel)
        timings["model_s"] = time.perf_counter() - t
        if cancel is not None and cancel.is_set():
            raise Cancelled("Stopped; nothing was saved.")
        sections = answer.sections
        t = time.perf_counter()
        with story_lock(self.folder.root):
            last = self.store.last_paragraph(self.id)
            number = replacing or (last[0] if last else 0) + 1
            draft = StepDraft(
                kind="write", title=base.title, outline=base.outline, short_term=sections["Memory"],
                plans=[sections["Plan 1"], sections["Plan 2"], sections["Plan 3"]],
                paragraphs={number: sections["Paragraph"]},
            )
            draft.extras = {
                "instruction": instruction, "choice": choice,
                "prompt": [asdict(m) for m in context.messages], "raw_output": answer.raw,
                "parsed": dict(sections.found), "retrieved": [[n, round(s, 4)] for n, s in context.retrieved],
                "bible": context.bible,
                "backend": backend.describe(), "model": answer.model,
                "prompt_tokens": answer.prompt_tokens, "completion_tokens": answer.completion_tokens,
            }
            step = self.store.commit_step(self.id, base.id, info.version, draft)
            timings["commit_s"] = time.perf_counter() - t
            t = time.perf_counter()
            self.files.write_step(info, shown, step, draft.paragraphs)
            timings["files_s"] = time.perf_counter() - t
        t = time.perf_counter()
        paragraph_id = self.store.live_paragraph_ids_for(self.id, [number])[number]
        self._index_follow(step.id, {number: paragraph_id}, previous=shown.id)
        timings["index_s"] = time.perf_counter() - t
        timings["total_s"] = time.perf_counter() - started
        timings["overhead_s"] = timings["total_s"] - timings["model_s"] - timings.get("choose_s", 0.0)
        self.store.set_timings(step.id, {k: round(v, 6) for k, v in timings.items()}, answer.attempts)
        step.timings = timings
        self.refresh()
        return step

    def _index_follow(self, step_id: int, changed: dict[int, int | None], previous: int) -> None:
        """Move the vector index from `previous` to `step_id` when it is in memory."""
        index = self.long_term.index
        if index is not None and index.step_id == previous:
            self.long_term.sync(step_id, changed)

    # -- moving through history --------------------------------------------------

    def undo(self, steps: int = 1) -> StepRecord:
        """Go back `steps` steps; the undone steps stay in history as a branch."""
        with story_lock(self.folder.root):
            self._import_edits_locked()
            info = self.refresh()
            target = self.store.step(info.head_step_id)
            for _ in range(steps):
                if target.parent_id is None:
                    raise RecurrentGPTError("Nothing to undo: the story is at its first step.")
                target = self.store.step(target.parent_id)
            return self._goto(target, info.version, locked=True)

    def switch_to(self, step_id: int, expected_version: int | None = None) -> StepRecord:
        """Make any step of this story the head (an alternative, or another branch)."""
        step = self.store.step(step_id)
        if step.story_id != self.id:
            raise StoryNotFound(f"Step {step_id} is not part of story {self.id!r}.")
        with story_lock(self.folder.root):
            self._import_edits_locked()
            info = self.refresh()
            if expected_version is not None and expected_version != info.version:
                raise ConcurrentEdit(f"Story {self.id!r} was changed elsewhere; reload it and try again.")
            return self._goto(step, info.version, locked=True)

    def _goto(self, step: StepRecord, version: int, locked: bool = False) -> StepRecord:
        if not locked:
            with story_lock(self.folder.root):
                return self._goto(step, version, locked=True)
        head = self.store.move_head(self.id, step.id, version)
        self.files.write_all(self.refresh(), head)
        self.long_term.forget()
        return head

    # -- consistency -------------------------------------------------------------

    def check(self) -> list[str]:
        info = self.refresh()
        head = self.head
        return self.files.check(info, head) + self.long_term.check(head.id) + self._check_bible()

    def _check_bible(self) -> list[str]:
        from memory.errors import MemoryFileError

        try:
            self.bible.entries()
            self.bible.files.suggestions()
        except MemoryFileError as error:
            return [str(error)]
        return []

    def reindex(self) -> int:
        return self.long_term.reindex(self.head.id)

    def close(self) -> None:
        self.long_term.save()

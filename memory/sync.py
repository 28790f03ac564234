"""Keeping the memory files and the database in step.

After a change the files are written from the database (only what changed,
when the files were current; all of them otherwise). Before a change the
files are read back: what a person edited becomes a draft of a manual-edit
step, validated in full before anything is recorded.
"""

from __future__ import annotations

from memory.errors import MemoryFileError
from memory.files import (
    LONG_TERM, OUTLINE, PLANS, SHORT_TERM, STATE_FILES, STORY, FileChanges, Mark, StoryFolder,
    paragraph_number, paragraph_path, parse_outline, parse_plans, render_plans, render_story,
)
from memory.store import StepDraft, StepRecord, StoryInfo, StoryStore
from memory.watch import FolderWatch

MAX_PARAGRAPH_CHARS = 20_000
MAX_SHORT_TERM_CHARS = 20_000


class MemorySync:
    def __init__(self, store: StoryStore, folder: StoryFolder):
        self.store = store
        self.folder = folder
        self.story_id = folder.story_id
        self._marks: dict[str, Mark] | None = None
        self._marks_step: int | None = None
        self._checks = 0
        self._watch: FolderWatch | None = None

    # -- database -> files ---------------------------------------------------

    def write_all(self, info: StoryInfo, head: StepRecord) -> None:
        """Rewrite every memory file from the head (after undo, a branch
        switch, an import, or a crash between commit and files)."""
        marks: dict[str, Mark | None] = dict(
            self.folder.write_state(head.title, info.premise, head.outline, head.short_term, head.plans)
        )
        paragraphs = self.store.paragraphs(self.story_id)
        wanted = {paragraph_path(n) for n in paragraphs}
        for relpath in self.folder.existing_paragraph_files():
            if relpath not in wanted:
                self.folder.remove(relpath)
        for number, text in paragraphs.items():
            marks[paragraph_path(number)] = self.folder.write_paragraph(number, text)
        self.folder.write(STORY, render_story(head.title, list(paragraphs.values())))
        self.store.record_files(self.story_id, head.id, marks, replace_all=True)
        self._remember(head.id, {k: v for k, v in marks.items() if v is not None}, replace=True)

    def write_step(self, info: StoryInfo, previous: StepRecord, head: StepRecord, changed: dict[int, str | None]) -> None:
        """Write what a step changed, when the files showed `previous`."""
        if info.files_step_id != previous.id:
            self.write_all(info, head)
            return
        marks: dict[str, Mark | None] = {}
        if (head.title, head.outline) != (previous.title, previous.outline):
            marks.update(self.folder.write_state(head.title, info.premise, head.outline, head.short_term, head.plans))
        else:
            marks[SHORT_TERM] = self.folder.write(SHORT_TERM, head.short_term.strip() + "\n")
            marks[PLANS] = self.folder.write(PLANS, render_plans(head.plans))
        # story.md grows by appending when the step only added new paragraphs
        # at the end; anything else rewrites it.
        known = self._marks
        appended_only = known is not None and head.title == previous.title and self.folder.path(STORY).exists()
        for number, text in sorted(changed.items()):
            relpath = paragraph_path(number)
            if text is None:
                self.folder.remove(relpath)
                marks[relpath] = None
                appended_only = False
            else:
                appended_only = appended_only and relpath not in known
                marks[relpath] = self.folder.write_paragraph(number, text)
        if appended_only and changed:
            last = self.store.last_paragraph(self.story_id)
            appended_only = last is not None and last[0] == max(changed)
        if not changed and head.title == previous.title:
            pass  # the novel itself did not change
        elif appended_only:
            self.folder.append(STORY, "".join(changed[n].strip() + "\n\n" for n in sorted(changed)))
        else:
            self.write_novel(head)
        self.store.record_files(self.story_id, head.id, marks)
        self._remember(head.id, marks)

    def write_novel(self, head: StepRecord) -> None:
        """Rewrite story.md, the novel so far (a view: never read back)."""
        self.folder.write(STORY, render_story(head.title, list(self.store.paragraphs(self.story_id).values())))

    # -- files -> database ---------------------------------------------------

    def marks(self, info: StoryInfo) -> dict[str, Mark]:
        if self._marks is None or self._marks_step != info.files_step_id:
            self._marks = self.store.file_marks(self.story_id)
            self._marks_step = info.files_step_id
        return self._marks

    def _remember(self, step_id: int, marks: dict[str, Mark | None], replace: bool = False) -> None:
        if replace or self._marks is None:
            self._marks = {}
        for path, mark in marks.items():
            if mark is None:
                self._marks.pop(path, None)
            else:
                self._marks[path] = mark
        self._marks_step = step_id

    def files_current(self, info: StoryInfo) -> bool:
        return info.files_step_id == info.head_step_id and self.folder.path(OUTLINE).exists()

    def read_edits(self, info: StoryInfo, head: StepRecord) -> tuple[StepDraft | None, FileChanges]:
        """What was edited by hand since the files were written, as a draft
        manual-edit step (None when nothing changed). Raises MemoryFileError,
        naming the file, for anything that does not parse."""
        changes = self.folder.scan(self.marks(info), only=self._maybe_touched())
        if not changes:
            return None, changes
        draft = StepDraft(kind="edit", title=head.title, outline=head.outline, short_term=head.short_term,
                          plans=list(head.plans))
        premise = info.premise
        if not self.folder.path(LONG_TERM).is_dir() and any(paragraph_number(p) is not None for p in changes.deleted):
            raise MemoryFileError(self.folder.path(LONG_TERM), None,
                                  "is missing; restore the folder (to delete paragraphs, delete their files from it)")
        for relpath in changes.deleted:
            number = paragraph_number(relpath)
            if number is not None:
                draft.paragraphs[number] = None
            elif relpath in STATE_FILES:
                raise MemoryFileError(self.folder.path(relpath), None,
                                      "is missing; restore it (`recurrentgpt show STORY --memory` prints what it held)")
        for relpath, text in sorted(changes.changed.items()):
            if relpath == OUTLINE:
                draft.title, premise, draft.outline = parse_outline(text, str(self.folder.path(relpath)))
            elif relpath == SHORT_TERM:
                if len(text) > MAX_SHORT_TERM_CHARS:
                    raise MemoryFileError(self.folder.path(relpath), None,
                                          f"holds {len(text):,} characters; keep the short-term memory under {MAX_SHORT_TERM_CHARS:,}")
                draft.short_term = text.strip()
            elif relpath == PLANS:
                draft.plans = parse_plans(text, str(self.folder.path(relpath)))
            else:
                number = paragraph_number(relpath)
                body = text.strip()
                if not body:
                    raise MemoryFileError(self.folder.path(relpath), None,
                                          "is empty; to remove the paragraph, delete the file")
                if len(body) > MAX_PARAGRAPH_CHARS:
                    raise MemoryFileError(self.folder.path(relpath), None,
                                          f"holds {len(body):,} characters; a paragraph may hold at most {MAX_PARAGRAPH_CHARS:,}")
                draft.paragraphs[number] = body
        edited = sorted(changes.changed) + sorted(changes.deleted)
        draft.extras = {"instruction": "Edited by hand: " + ", ".join(edited), "choice": "manual",
                        "parsed": {"premise": premise}}
        return draft, changes

    def _maybe_touched(self) -> set[str] | None:
        """Long-term file names that may have changed since the last check
        (None: check them all). A process that checks again and again (a
        long `write`, the benchmarks) gets a folder watch from its second
        check on, so a step does not stat thousands of files; a one-off check
        does not spend a watch."""
        self._checks += 1
        if self._watch is not None and self._watch.active:
            return self._watch.touched()
        if self._checks >= 2:
            folder = self.folder.path(LONG_TERM)
            if folder.is_dir():
                self._watch = FolderWatch(folder)  # set up before this full check, so nothing slips between
        return None

    def accept_edits(self, step_id: int, changes: FileChanges) -> None:
        """Remember the files as they are now (after their edits were recorded, or touched only)."""
        self.store.record_files(self.story_id, step_id, changes.marks)
        self._remember(step_id, changes.marks)

    def check(self, info: StoryInfo, head: StepRecord) -> list[str]:
        """Where the files differ from the database's head (empty: they agree)."""
        problems = []
        if info.files_step_id != info.head_step_id:
            problems.append(f"the memory files show step {info.files_step_id}, the story is at step {info.head_step_id}")
        try:
            draft, _ = self.read_edits(info, head)
        except MemoryFileError as error:
            return problems + [str(error)]
        if draft is not None:
            problems.append("memory files were edited by hand and not imported yet (the next step imports them): "
                            + draft.extras["instruction"].removeprefix("Edited by hand: "))
        expected = {paragraph_path(n) for n in self.store.live_numbers(self.story_id)}
        present = set(self.folder.existing_paragraph_files())
        if draft is None and expected != present:
            problems.append(f"{len(expected ^ present)} long-term memory file(s) are missing or extra")
        return problems


__all__ = ["MemorySync", "LONG_TERM"]

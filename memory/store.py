"""The story store: every read and write of stories, steps and paragraphs.

All writes that move a story's head are optimistic: they name the story
version they were computed from and fail with `ConcurrentEdit` when someone
else moved the head first, leaving the database exactly as it was.
"""

from __future__ import annotations

import numpy as np
from sqlalchemy import delete, func, select, update

from memory.database import Database
from memory.errors import ConcurrentEdit, StoryNotFound
from memory.ids import check_story_id, slugify
from memory.models import FileMark, LiveParagraph, Paragraph, Step, Story, utcnow
from memory.records import StepDraft, StepRecord, StoryInfo, _info, _record

__all__ = ["StoryStore", "StepDraft", "StepRecord", "StoryInfo"]


class StoryStore:
    def __init__(self, db: Database):
        self.db = db

    # -- stories -------------------------------------------------------------

    def new_story_id(self, title: str) -> str:
        base = slugify(title)
        with self.db.session() as s:
            taken = set(s.scalars(select(Story.id).where(Story.id.like(f"{base}%"))))
        if base not in taken:
            return base
        n = 2
        while f"{base}-{n}" in taken:
            n += 1
        return f"{base}-{n}"

    def create_story(self, story_id: str, first_step: StepDraft | None = None, **fields) -> StoryInfo:
        """A new story; with `first_step`, the story and its first step are
        recorded in one transaction, so no story ever exists without a head."""
        check_story_id(story_id)
        with self.db.session.begin() as s:
            if s.get(Story, story_id) is not None:
                raise ConcurrentEdit(f"A story with id {story_id!r} already exists; choose another id.")
            row = Story(id=story_id, version=0, **fields)
            s.add(row)
            s.flush()
            if first_step is not None:
                self._commit(s, story_id, None, 0, first_step)
                s.refresh(row)
            return _info(row)

    def story(self, story_id: str) -> StoryInfo:
        check_story_id(story_id)
        with self.db.session() as s:
            row = s.get(Story, story_id)
            if row is None:
                raise StoryNotFound(f"No story {story_id!r}; `recurrentgpt list` shows the stories you have.")
            return _info(row)

    def stories(self) -> list[StoryInfo]:
        with self.db.session() as s:
            return [_info(r) for r in s.scalars(select(Story).order_by(Story.updated_at.desc()))]

    def update_story(self, story_id: str, **fields) -> None:
        with self.db.session.begin() as s:
            s.execute(update(Story).where(Story.id == story_id).values(**fields))

    def delete_story(self, story_id: str) -> None:
        self.story(story_id)
        with self.db.session.begin() as s:
            for model in (FileMark, LiveParagraph):
                s.execute(delete(model).where(model.story_id == story_id))
            s.execute(delete(Paragraph).where(Paragraph.story_id == story_id))
            s.execute(update(Step).where(Step.story_id == story_id).values(parent_id=None))
            s.execute(delete(Step).where(Step.story_id == story_id))
            s.execute(delete(Story).where(Story.id == story_id))

    # -- history -------------------------------------------------------------

    def step(self, step_id: int) -> StepRecord:
        with self.db.session() as s:
            return _record(s.get_one(Step, step_id))

    def head(self, story_id: str) -> StepRecord:
        info = self.story(story_id)
        if info.head_step_id is None:
            raise StoryNotFound(f"Story {story_id!r} has no steps yet.")
        return self.step(info.head_step_id)

    def children(self, step_id: int) -> list[StepRecord]:
        with self.db.session() as s:
            rows = s.scalars(select(Step).where(Step.parent_id == step_id).order_by(Step.id))
            return [_record(r) for r in rows]

    def steps(self, story_id: str) -> list[StepRecord]:
        """Every step of the story, all branches, oldest first (without prompts)."""
        with self.db.session() as s:
            rows = s.scalars(select(Step).where(Step.story_id == story_id).order_by(Step.id))
            return [_record(r) for r in rows]

    def tree(self, story_id: str) -> list[StepRecord]:
        """Every step of the story, oldest first, with only what the shape of
        the history needs (id, parent, kind, time, instruction, choice, title,
        plans): no prompts, replies or memories, so it stays cheap to read."""
        columns = (Step.id, Step.story_id, Step.parent_id, Step.kind, Step.created_at, Step.instruction,
                   Step.choice, Step.title, Step.plans)
        with self.db.session() as s:
            rows = s.execute(select(*columns).where(Step.story_id == story_id).order_by(Step.id)).all()
        names = [c.key for c in columns]
        return [StepRecord(**dict(zip(names, row))) for row in rows]

    def lineage(self, story_id: str, step_id: int) -> list[int]:
        """Step ids from the root to `step_id`."""
        with self.db.session() as s:
            parents = dict(s.execute(select(Step.id, Step.parent_id).where(Step.story_id == story_id)).all())
        chain = []
        current: int | None = step_id
        while current is not None:
            chain.append(current)
            current = parents[current]
        return chain[::-1]

    def step_paragraphs(self, story_id: str, step_ids: list[int]) -> list[tuple[int, int, str | None]]:
        """(step id, paragraph number, text; None: deleted) of every paragraph
        change made by the given steps, in commit order. Reading any branch
        this way needs no move of the head."""
        with self.db.session() as s:
            rows = s.execute(
                select(Paragraph.step_id, Paragraph.number, Paragraph.text)
                .where(Paragraph.story_id == story_id, Paragraph.step_id.in_(step_ids))
                .order_by(Paragraph.id)
            ).all()
        return [tuple(r) for r in rows]

    # -- paragraphs of the current branch -------------------------------------

    def live_numbers(self, story_id: str) -> list[int]:
        with self.db.session() as s:
            q = select(LiveParagraph.number).where(LiveParagraph.story_id == story_id).order_by(LiveParagraph.number)
            return list(s.scalars(q))

    def paragraphs(self, story_id: str, numbers: list[int] | None = None) -> dict[int, str]:
        """Live paragraph texts by number (all of them when `numbers` is None), in story order."""
        q = (
            select(LiveParagraph.number, Paragraph.text)
            .join(Paragraph, Paragraph.id == LiveParagraph.paragraph_id)
            .where(LiveParagraph.story_id == story_id)
            .order_by(LiveParagraph.number)
        )
        if numbers is not None:
            q = q.where(LiveParagraph.number.in_(numbers))
        with self.db.session() as s:
            return dict(s.execute(q).all())

    def last_paragraph(self, story_id: str, below: int | None = None) -> tuple[int, str] | None:
        """(number, text) of the live paragraph with the highest number (below `below`, when given)."""
        q = (
            select(LiveParagraph.number, Paragraph.text)
            .join(Paragraph, Paragraph.id == LiveParagraph.paragraph_id)
            .where(LiveParagraph.story_id == story_id)
            .order_by(LiveParagraph.number.desc())
            .limit(1)
        )
        if below is not None:
            q = q.where(LiveParagraph.number < below)
        with self.db.session() as s:
            row = s.execute(q).first()
            return (row[0], row[1]) if row else None

    def max_number(self, story_id: str) -> int:
        """The highest paragraph number ever used by the story (any branch)."""
        with self.db.session() as s:
            return s.scalar(select(func.max(Paragraph.number)).where(Paragraph.story_id == story_id)) or 0

    def unembedded(self, story_id: str) -> list[tuple[int, int, str]]:
        """(paragraph id, number, text) of live paragraphs still without an embedding."""
        q = (
            select(Paragraph.id, LiveParagraph.number, Paragraph.text)
            .join(Paragraph, Paragraph.id == LiveParagraph.paragraph_id)
            .where(LiveParagraph.story_id == story_id, Paragraph.embedding.is_(None))
        )
        with self.db.session() as s:
            return [tuple(r) for r in s.execute(q).all()]

    def texts_of(self, paragraph_ids: list[int]) -> dict[int, str]:
        """Paragraph texts by paragraph row id."""
        with self.db.session() as s:
            return dict(s.execute(select(Paragraph.id, Paragraph.text).where(Paragraph.id.in_(paragraph_ids))).all())

    def save_embeddings(self, vectors: dict[int, np.ndarray]) -> None:
        with self.db.session.begin() as s:
            for paragraph_id, vector in vectors.items():
                s.execute(
                    update(Paragraph)
                    .where(Paragraph.id == paragraph_id)
                    .values(embedding=np.asarray(vector, dtype=np.float32).tobytes())
                )

    def live_embeddings(self, story_id: str) -> tuple[list[int], list[int], list[bytes | None]]:
        """(numbers, paragraph ids, embedding bytes) of the live paragraphs."""
        q = (
            select(LiveParagraph.number, Paragraph.id, Paragraph.embedding)
            .join(Paragraph, Paragraph.id == LiveParagraph.paragraph_id)
            .where(LiveParagraph.story_id == story_id)
            .order_by(LiveParagraph.number)
        )
        with self.db.session() as s:
            rows = s.execute(q).all()
        return [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]

    def live_paragraph_ids_for(self, story_id: str, numbers: list[int]) -> dict[int, int]:
        with self.db.session() as s:
            q = select(LiveParagraph.number, LiveParagraph.paragraph_id).where(
                LiveParagraph.story_id == story_id, LiveParagraph.number.in_(numbers)
            )
            return dict(s.execute(q).all())

    def set_timings(self, step_id: int, timings: dict, attempts: int) -> None:
        with self.db.session.begin() as s:
            s.execute(update(Step).where(Step.id == step_id).values(timings={**timings, "attempts": attempts}))

    def live_paragraph_ids(self, story_id: str) -> dict[int, int]:
        with self.db.session() as s:
            q = select(LiveParagraph.number, LiveParagraph.paragraph_id).where(LiveParagraph.story_id == story_id)
            return dict(s.execute(q).all())

    # -- moving the head -----------------------------------------------------

    def commit_step(self, story_id: str, parent_id: int | None, expected_version: int, draft: StepDraft) -> StepRecord:
        """Record a step as the new head, atomically. Raises ConcurrentEdit if
        the story's version is no longer `expected_version`."""
        with self.db.session.begin() as s:
            return self._commit(s, story_id, parent_id, expected_version, draft)

    def _commit(self, s, story_id: str, parent_id: int | None, expected_version: int, draft: StepDraft) -> StepRecord:
        self._claim(s, story_id, expected_version)
        live_count = s.scalar(select(func.count()).where(LiveParagraph.story_id == story_id)) or 0
        existing = set(
            s.scalars(
                select(LiveParagraph.number).where(
                    LiveParagraph.story_id == story_id, LiveParagraph.number.in_(list(draft.paragraphs))
                )
            )
        )
        added = sum(1 for n, t in draft.paragraphs.items() if t is not None and n not in existing)
        removed = sum(1 for n, t in draft.paragraphs.items() if t is None and n in existing)
        row = Step(
            story_id=story_id,
            parent_id=parent_id,
            kind=draft.kind,
            title=draft.title,
            outline=draft.outline,
            short_term=draft.short_term,
            plans=list(draft.plans),
            paragraph_count=live_count + added - removed,
            **draft.extras,
        )
        s.add(row)
        s.flush()
        for number, text in sorted(draft.paragraphs.items()):
            paragraph = Paragraph(story_id=story_id, step_id=row.id, number=number, text=text)
            s.add(paragraph)
            s.flush()
            s.execute(delete(LiveParagraph).where(LiveParagraph.story_id == story_id, LiveParagraph.number == number))
            if text is not None:
                s.add(LiveParagraph(story_id=story_id, number=number, paragraph_id=paragraph.id))
        self._bump(s, story_id, expected_version, head_step_id=row.id, title=draft.title)
        s.flush()
        return _record(row)

    def move_head(self, story_id: str, step_id: int, expected_version: int) -> StepRecord:
        """Make `step_id` (any step of the story) the head; the live
        paragraphs become those of its branch."""
        chain = self.lineage(story_id, step_id)
        order = {sid: i for i, sid in enumerate(chain)}
        with self.db.session.begin() as s:
            self._claim(s, story_id, expected_version)
            rows = s.execute(
                select(Paragraph.id, Paragraph.number, Paragraph.step_id, Paragraph.text).where(
                    Paragraph.story_id == story_id, Paragraph.step_id.in_(chain)
                )
            ).all()
            latest: dict[int, tuple[int, int, str | None]] = {}
            for pid, number, sid, text in rows:
                key = (order[sid], pid)
                if number not in latest or key > latest[number][:2]:
                    latest[number] = (order[sid], pid, text)
            s.execute(delete(LiveParagraph).where(LiveParagraph.story_id == story_id))
            for number, (_, pid, text) in latest.items():
                if text is not None:
                    s.add(LiveParagraph(story_id=story_id, number=number, paragraph_id=pid))
            target = s.get_one(Step, step_id)
            self._bump(s, story_id, expected_version, head_step_id=step_id, title=target.title)
            return _record(target)

    def _claim(self, s, story_id: str, expected_version: int) -> None:
        """Lock the story row first (SELECT ... FOR UPDATE; SQLite has one
        writer anyway), so a concurrent writer waits here and then fails
        cleanly with ConcurrentEdit, instead of colliding on the paragraph
        rows (a unique-key error on PostgreSQL)."""
        version = s.scalar(select(Story.version).where(Story.id == story_id).with_for_update())
        if version is None:
            raise StoryNotFound(f"No story {story_id!r}; `recurrentgpt list` shows the stories you have.")
        if version != expected_version:
            raise ConcurrentEdit(
                f"Story {story_id!r} was changed elsewhere (another window or process) while this change "
                "was being made; nothing was saved. Reload and try again."
            )

    def _bump(self, s, story_id: str, expected_version: int, **values) -> None:
        result = s.execute(
            update(Story)
            .where(Story.id == story_id, Story.version == expected_version)
            .values(version=Story.version + 1, updated_at=utcnow(), **values)
        )
        if result.rowcount != 1:
            raise ConcurrentEdit(
                f"Story {story_id!r} was changed elsewhere (another window or process) while this change "
                "was being made; nothing was saved. Reload and try again."
            )

    # -- memory file bookkeeping -----------------------------------------------

    def file_marks(self, story_id: str) -> dict[str, tuple[int, int, str]]:
        with self.db.session() as s:
            rows = s.execute(
                select(FileMark.path, FileMark.size, FileMark.mtime_ns, FileMark.digest).where(
                    FileMark.story_id == story_id
                )
            ).all()
        return {r[0]: (r[1], r[2], r[3]) for r in rows}

    def record_files(
        self,
        story_id: str,
        step_id: int,
        marks: dict[str, tuple[int, int, str] | None],
        *,
        replace_all: bool = False,
    ) -> None:
        """Remember what the files look like now (None: the file is gone) and
        that they show step `step_id`."""
        with self.db.session.begin() as s:
            if replace_all:
                s.execute(delete(FileMark).where(FileMark.story_id == story_id))
            for path, mark in marks.items():
                if not replace_all:
                    s.execute(delete(FileMark).where(FileMark.story_id == story_id, FileMark.path == path))
                if mark is not None:
                    s.add(FileMark(story_id=story_id, path=path, size=mark[0], mtime_ns=mark[1], digest=mark[2]))
            s.execute(update(Story).where(Story.id == story_id).values(files_step_id=step_id))

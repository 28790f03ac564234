"""The database schema. The database is the truth: every step is a row, and
the story's present state is the state of its head step.

History is a tree: each step points at its parent. Undo moves the head to an
ancestor; writing from there starts a branch and keeps the old one.
Paragraph rows are immutable versions: a row with `text = NULL` records that
a paragraph was deleted. The live (current-branch) paragraphs are cached in
`live_paragraphs`, recomputed only when the head jumps to another branch.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class Story(Base):
    __tablename__ = "stories"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(Text, default="")
    premise: Mapped[str] = mapped_column(Text, default="")
    genre: Mapped[str] = mapped_column(Text, default="")
    lang: Mapped[str] = mapped_column(String(8), default="en")
    mode: Mapped[str] = mapped_column(String(16), default="novel")
    persona: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    head_step_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The step the memory files on disk were last written from. Differs from
    # the head only when a process died between committing and writing files.
    files_step_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Optimistic lock: every change to the head bumps it.
    version: Mapped[int] = mapped_column(Integer, default=0)


class Step(Base):
    __tablename__ = "steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    story_id: Mapped[str] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("steps.id"), nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(16))  # start | write | edit | import
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # What the step was asked to do.
    instruction: Mapped[str] = mapped_column(Text, default="")
    choice: Mapped[str] = mapped_column(String(32), default="")
    # The story's state after this step.
    title: Mapped[str] = mapped_column(Text, default="")
    outline: Mapped[str] = mapped_column(Text, default="")
    short_term: Mapped[str] = mapped_column(Text, default="")
    plans: Mapped[list] = mapped_column(JSON, default=list)
    paragraph_count: Mapped[int] = mapped_column(Integer, default=0)
    # How the step came about.
    prompt: Mapped[list] = mapped_column(JSON, default=list)
    raw_output: Mapped[str] = mapped_column(Text, default="")
    parsed: Mapped[dict] = mapped_column(JSON, default=dict)
    retrieved: Mapped[list] = mapped_column(JSON, default=list)
    # The story-bible entries the step's prompt carried: [{name, reason, key, score, tokens}].
    bible: Mapped[list] = mapped_column(JSON, default=list)
    backend: Mapped[str] = mapped_column(String(64), default="")
    model: Mapped[str] = mapped_column(String(200), default="")
    prompt_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    completion_tokens: Mapped[int | None] = mapped_column(Integer, nullable=True)
    timings: Mapped[dict] = mapped_column(JSON, default=dict)


class Paragraph(Base):
    __tablename__ = "paragraphs"
    __table_args__ = (Index("ix_paragraphs_story_number", "story_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    story_id: Mapped[str] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"))
    step_id: Mapped[int] = mapped_column(ForeignKey("steps.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)  # NULL: deleted
    # float32 vector, filled once, the first time retrieval needs it.
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class LiveParagraph(Base):
    __tablename__ = "live_paragraphs"

    story_id: Mapped[str] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    paragraph_id: Mapped[int] = mapped_column(ForeignKey("paragraphs.id"))


class FileMark(Base):
    """What each memory file looked like when we last wrote or read it, so a
    hand edit is found by a stat, not by reading every file."""

    __tablename__ = "file_marks"

    story_id: Mapped[str] = mapped_column(ForeignKey("stories.id", ondelete="CASCADE"), primary_key=True)
    path: Mapped[str] = mapped_column(String(255), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    mtime_ns: Mapped[int] = mapped_column(BigInteger)
    digest: Mapped[str] = mapped_column(String(64))

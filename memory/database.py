"""Opening the database and bringing its schema up to date.

Migrations are named, ordered functions. A blank database gets the current
schema at once and every migration is recorded as applied; an older database
gets the migrations it lacks, in order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from sqlalchemy import Connection, create_engine, event, inspect, text
from sqlalchemy.orm import Session, sessionmaker

from memory.models import Base


def _initial(conn: Connection) -> None:
    Base.metadata.create_all(conn)


def _step_bible(conn: Connection) -> None:
    """steps.bible: which story-bible entries a step used."""
    conn.execute(text("ALTER TABLE steps ADD COLUMN bible JSON"))
    conn.execute(text("UPDATE steps SET bible = '[]'"))


MIGRATIONS: list[tuple[str, Callable[[Connection], None]]] = [
    ("001_initial", _initial),
    ("002_step_bible", _step_bible),
]


class Database:
    """An engine, a session factory, and the schema, migrated on open."""

    def __init__(self, url: str):
        self.url = url
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine = create_engine(url, future=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.session: sessionmaker[Session] = sessionmaker(self.engine, expire_on_commit=False)
        migrate(self.engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=15000")  # another process may be committing
    cursor.close()


def migrate(engine) -> list[str]:
    """Apply pending migrations; returns the names applied."""
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS schema_migrations (name VARCHAR(128) PRIMARY KEY)"))
        done = {row[0] for row in conn.execute(text("SELECT name FROM schema_migrations"))}
        blank = not inspect(conn).has_table("stories")
        applied = []
        for name, step in MIGRATIONS:
            if name in done:
                continue
            if not blank or name == MIGRATIONS[0][0]:
                step(conn)
            conn.execute(text("INSERT INTO schema_migrations (name) VALUES (:n)"), {"n": name})
            applied.append(name)
    return applied

"""Helpers of the fault and abuse suite: the tally of injected faults, a
snapshot of a story (database, memory files, index), an independent check
that files and database agree, and real CLI processes that can be killed."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
SECRET = "sk-test-secret-key-0123456789"  # the key the `server` fixture sets


# -- the tally ------------------------------------------------------------------


class Tally:
    """How often each fault was injected, how often the story survived it
    (consistent, at a committed step), and how many committed paragraphs or
    steps were lost (must stay zero)."""

    def __init__(self):
        self.rows: dict[str, dict[str, int]] = defaultdict(lambda: {"injected": 0, "survived": 0, "lost": 0})

    def record(self, fault: str, *, survived: bool, lost: int = 0) -> None:
        row = self.rows[fault]
        row["injected"] += 1
        row["survived"] += int(survived)
        row["lost"] += lost

    def table(self) -> str:
        lines = ["| fault | injected | survived | data lost |", "|---|---:|---:|---:|"]
        for fault in sorted(self.rows):
            row = self.rows[fault]
            lines.append(f"| {fault} | {row['injected']} | {row['survived']} | {row['lost']} |")
        return "\n".join(lines) + "\n"


_TALLY = Tally()


@pytest.fixture(scope="session")
def tally():
    yield _TALLY
    if _TALLY.rows:  # RELIABILITY_ARTIFACTS: another folder, so that parallel runs don't overwrite each other
        folder = Path(os.environ.get("RELIABILITY_ARTIFACTS") or ARTIFACTS)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "reliability.json").write_text(json.dumps(_TALLY.rows, indent=2, sort_keys=True))
        (folder / "reliability.md").write_text(_TALLY.table())


# -- what a story looks like ------------------------------------------------------


@dataclass
class Snapshot:
    head: int | None
    files_step: int | None
    version: int
    steps: int
    paragraphs: dict[int, str]  # live, by number
    all_paragraph_rows: int
    head_state: dict
    files: dict[str, str] = field(default_factory=dict)  # relpath -> sha256 of the bytes

    def same_story(self, other: "Snapshot") -> bool:
        return (self.head, self.version, self.steps, self.paragraphs, self.all_paragraph_rows) == (
            other.head, other.version, other.steps, other.paragraphs, other.all_paragraph_rows)


def _library(home: Path):
    from recurrentgpt.library import Library
    from recurrentgpt.settings import Settings

    return Library(Settings.from_env(home=home))


def steps_of(home: Path, story: str) -> list:
    """Every step of the story (all branches), read with a connection of its own."""
    library = _library(home)
    try:
        return library.store.steps(story)
    finally:
        library.db.dispose()


def snapshot(home: Path, story: str) -> Snapshot:
    library = _library(home)
    try:
        store = library.store
        info = store.story(story)
        with library.db.engine.connect() as conn:
            steps = conn.execute(text("SELECT count(*) FROM steps WHERE story_id = :s"), {"s": story}).scalar()
            rows = conn.execute(text("SELECT count(*) FROM paragraphs WHERE story_id = :s"), {"s": story}).scalar()
        head = store.step(info.head_step_id) if info.head_step_id else None
        state = {} if head is None else {"title": head.title, "outline": head.outline, "short_term": head.short_term,
                                         "plans": list(head.plans), "paragraph_count": head.paragraph_count}
        return Snapshot(info.head_step_id, info.files_step_id, info.version, steps, store.paragraphs(story), rows,
                        state, story_files(home, story))
    finally:
        library.db.dispose()


def story_files(home: Path, story: str) -> dict[str, str]:
    root = home / "stories" / story
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.name.startswith("."):
            found[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def files_match_database(home: Path, story: str) -> list[str]:
    """Independent of the engine's own check: every memory file holds exactly
    what the database's head says, and there is no paragraph file too many."""
    from memory.files import render_outline, render_plans, render_story

    library = _library(home)
    try:
        info = library.store.story(story)
        head = library.store.step(info.head_step_id)
        paragraphs = library.store.paragraphs(story)
    finally:
        library.db.dispose()
    root = home / "stories" / story
    expected = {
        "memory/outline.md": render_outline(head.title, info.premise, head.outline),
        "memory/short_term.md": head.short_term.strip() + "\n",
        "memory/plans.md": render_plans(head.plans),
        "story.md": render_story(head.title, list(paragraphs.values())),
    }
    expected.update({f"memory/long_term/{n:05d}.md": t.strip() + "\n" for n, t in paragraphs.items()})
    problems = []
    for relpath, wanted in expected.items():
        path = root / relpath
        if not path.is_file():
            problems.append(f"{relpath} is missing")
        elif path.read_text(encoding="utf-8") != wanted:
            problems.append(f"{relpath} differs from the database")
    folder = root / "memory" / "long_term"
    present = {f"memory/long_term/{p.name}" for p in folder.glob("*.md")} if folder.is_dir() else set()
    extra = present - set(expected)
    if extra:
        problems.append(f"paragraph files not in the database: {sorted(extra)}")
    if paragraphs and head.paragraph_count != len(paragraphs):
        problems.append(f"head step says {head.paragraph_count} paragraphs, {len(paragraphs)} are live")
    return problems


def lost_paragraphs(before: Snapshot, after: Snapshot) -> int:
    """Committed paragraphs of `before` that `after` no longer has unchanged."""
    return sum(1 for n, t in before.paragraphs.items() if after.paragraphs.get(n) != t)


def assert_clean_failure(result, *words: str) -> None:
    """Exit 1 with one or two lines on stderr, no traceback."""
    assert result.code == 1, (result.code, result.out, result.err)
    assert "Traceback" not in result.err and "Traceback" not in result.out, result.err
    lines = [line for line in result.err.strip().splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2, result.err
    for word in words:
        assert word.lower() in result.err.lower(), (word, result.err)


# -- real processes that can be killed --------------------------------------------


class Process:
    def __init__(self, server: "ForkServer", pid: int, out: Path, err: Path):
        self.server, self.pid, self.out_path, self.err_path = server, pid, out, err
        self.status: int | None = None

    def kill(self) -> None:
        import signal

        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def wait(self) -> int:
        if self.status is None:
            self.status = self.server.call({"op": "wait", "pid": self.pid})["status"]
        return self.status

    @property
    def code(self) -> int:
        return self.wait()

    @property
    def out(self) -> str:
        return self.out_path.read_text(errors="replace")

    @property
    def err(self) -> str:
        return self.err_path.read_text(errors="replace")


class ForkServer:
    """Starts real `recurrentgpt` processes from a parent that has the
    embedder loaded already (see forkserver.py)."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.count = 0
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("forkserver.py"))], cwd=ROOT, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        assert self._read().get("ready"), "the fork server did not start"

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the fork server exited")
        return json.loads(line)

    def call(self, request: dict) -> dict:
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def spawn(self, *argv: str, crash: dict | None = None, env: dict | None = None) -> Process:
        self.count += 1
        out = self.workdir / f"proc{self.count}.out"
        err = self.workdir / f"proc{self.count}.err"
        request = {"op": "run", "argv": [str(a) for a in argv], "env": dict(env or os.environ),
                   "stdout": str(out), "stderr": str(err), "crash": crash}
        return Process(self, self.call(request)["pid"], out, err)

    def run(self, *argv: str, crash: dict | None = None, timeout: float = 60) -> Process:
        process = self.spawn(*argv, crash=crash)
        process.wait()
        return process

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture(scope="session")
def forkserver(tmp_path_factory):
    server = ForkServer(tmp_path_factory.mktemp("procs"))
    yield server
    server.close()


def wait_until(predicate, timeout: float = 10.0, step: float = 0.005) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False

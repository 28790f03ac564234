"""Shared pieces of the engine benchmarks: real prose (Pride and Prejudice),
long stories built through our own storage code, pre-embedded in batches,
an instant loopback OpenAI-compatible server, and table printing.

Nothing here is a stand-in for the engine: stories are committed with
`StoryStore.commit_step`, memory files written with `MemorySync.write_all`,
vectors made by the engine's embedder and stored with
`StoryStore.save_embeddings`, and steps run through `Novel.write`.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import statistics
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from memory.passages import embed_paragraphs  # noqa: E402  (needs the project on sys.path)

NOVEL = Path(os.environ.get("RECURRENTGPT_BENCH_NOVEL", ROOT.parent / "shared" / "data" / "pride_and_prejudice.txt"))
CACHE = Path(os.environ.get("RECURRENTGPT_BENCH_CACHE", ROOT / "bench" / ".cache"))
TITLE = "Pride and Prejudice"
PREMISE = "The Bennet sisters, their mother's schemes, and Elizabeth's quarrel with the proud Mr. Darcy."
OUTLINE = ("1. Mr. Bingley takes Netherfield; Jane and he fall in love.\n2. Elizabeth meets and dislikes Mr. Darcy.\n"
           "3. Mr. Collins proposes and is refused.\n4. Darcy proposes and is refused.\n"
           "5. Lydia elopes; Darcy saves the family.\n6. Two marriages.")


def novel_paragraphs() -> list[str]:
    """The novel's paragraphs (Gutenberg header, footer and chapter headings
    removed), each on one line."""
    text = NOVEL.read_text(encoding="utf-8")
    start = text.find("It is a truth universally acknowledged")
    end = text.find("End of the Project Gutenberg")
    body = text[start if start >= 0 else 0: end if end >= 0 else len(text)]
    paragraphs = [re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n", body)]
    return [p for p in paragraphs if p and not re.fullmatch(r"Chapter \d+", p)]


def take(paragraphs: list[str], n: int) -> list[str]:
    """`n` paragraphs of the novel in order, reading it again from the start
    when it runs out (it has about 2,000)."""
    return [paragraphs[i % len(paragraphs)] for i in range(n)]


def recent_summary(paragraphs: list[str], words: int = 180) -> str:
    """A short-term memory for the story so far: the first sentence of each of
    the latest paragraphs, newest last, up to `words` words (the engine asks
    the model for about 180)."""
    picked: list[str] = []
    count = 0
    for paragraph in reversed(paragraphs):
        sentence = re.split(r"(?<=[.!?])\s", paragraph, maxsplit=1)[0]
        count += len(sentence.split())
        if count > words and picked:
            break
        picked.append(sentence)
    return " ".join(reversed(picked))


# -- embeddings ----------------------------------------------------------------


class VectorCache:
    """The engine's embedder with a cache keyed by the text's digest (on disk
    under bench/.cache, so a second run skips the slow part of the setup).
    Only setup goes through here; the engine's own steps and the baseline
    call the embedder directly."""

    def __init__(self, embedder, path: Path | None | bool = True):
        self.embedder = embedder
        path = CACHE if path is True else path
        self.path = path / "minilm-vectors.npz" if path else None
        self.vectors: dict[str, np.ndarray] = {}
        if self.path and self.path.exists():
            data = np.load(self.path)
            self.vectors = dict(zip(data["keys"].tolist(), data["vectors"]))
        self._dirty = False

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]

    @property
    def dim(self) -> int:
        return self.embedder.dim

    def embed(self, texts: list[str]) -> np.ndarray:
        keys = [self.key(t) for t in texts]
        missing = {k: t for k, t in zip(keys, texts) if k not in self.vectors}
        if missing:
            vectors = self.embedder.embed(list(missing.values()))
            self.vectors.update(zip(missing, vectors))
            self._dirty = True
        return np.stack([self.vectors[k] for k in keys]) if keys else np.zeros((0, self.embedder.dim), np.float32)

    def save(self) -> None:
        if self.path and self._dirty:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            keys = list(self.vectors)
            temp = self.path.with_name(f".{os.getpid()}.npz")
            np.savez(temp, keys=np.array(keys), vectors=np.stack([self.vectors[k] for k in keys]))
            os.replace(temp, self.path)
            self._dirty = False


# -- stories -------------------------------------------------------------------


def library(home: Path, base_url: str = "http://127.0.0.1:9/v1"):
    """A Library in `home` whose hosted backend points at `base_url`, sharing
    the process's embedder."""
    from memory.embedder import shared_embedder
    from recurrentgpt.library import Library
    from recurrentgpt.settings import Settings

    settings = Settings(home=home, base_url=base_url, api_key="sk-bench", model="fake-gpt", timeout=30)
    return Library(settings, embedder=shared_embedder())


def build_story(lib, story_id: str, paragraphs: list[str], vectors: VectorCache | None = None,
                per_step: int = 1, files: bool = True) -> str:
    """A story holding `paragraphs` (numbered from 1), committed through the
    store step by step (`per_step` paragraphs a step, like the engine writes
    them), its memory files written and its vectors stored, as the engine
    would leave it after writing them. If the story exists, it is extended
    from its last paragraph to `paragraphs`."""
    from memory.errors import StoryNotFound
    from memory.store import StepDraft

    store = lib.store
    try:
        info = store.story(story_id)
        parent, have = info.head_step_id, len(store.live_numbers(story_id))
    except StoryNotFound:
        info = store.create_story(story_id, title=TITLE, premise=PREMISE, genre="classic", lang="en", mode="novel",
                                  persona="")
        parent, have = None, 0
    version = info.version
    for first in range(have, len(paragraphs), per_step):
        chunk = paragraphs[first: first + per_step]
        done = paragraphs[: first + len(chunk)]
        draft = StepDraft(
            kind="start" if parent is None else "write", title=TITLE, outline=OUTLINE,
            short_term=recent_summary(done[-12:]),
            plans=[f"Continue from paragraph {first + len(chunk)}.", "Turn to Elizabeth.", "Turn to Mr. Darcy."],
            paragraphs={first + i + 1: text for i, text in enumerate(chunk)},
        )
        draft.extras = {"instruction": "Continue the story.", "choice": "1"}
        parent = store.commit_step(story_id, parent, version, draft).id
        version += 1
    novel = lib.open(story_id)
    if files:
        novel.files.write_all(novel.refresh(), novel.head)
    if vectors is not None:
        pending = store.unembedded(story_id)
        embedded = embed_paragraphs(vectors, [text for _, _, text in pending])
        store.save_embeddings({pid: vec for (pid, _, _), vec in zip(pending, embedded)})
    return story_id


# -- the instant model ---------------------------------------------------------


class ProseResponder:
    """Answers every step request at once with the next paragraph of the
    novel, a short-term memory and three plans, in the labelled format."""

    def __init__(self, paragraphs: list[str], start: int = 0):
        self.paragraphs = paragraphs
        self.n = start

    def __call__(self, request) -> str:
        text = self.paragraphs[self.n % len(self.paragraphs)]
        recent = [self.paragraphs[(self.n - i) % len(self.paragraphs)] for i in range(8, -1, -1)]
        self.n += 1
        return (f"Paragraph: {text}\n\nMemory: {recent_summary(recent)}\n\n"
                "Plan 1: Elizabeth walks to Netherfield to see Jane.\n"
                "Plan 2: Mrs. Bennet plans a dinner for Mr. Bingley.\n"
                "Plan 3: Mr. Darcy writes a letter to Elizabeth.")


# -- reporting -----------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import torch

        threads = f", torch {torch.__version__} ({torch.get_num_threads()} threads)"
    except Exception:
        threads = ""
    load = ""
    if hasattr(os, "getloadavg"):
        load = ", load average %.1f" % os.getloadavg()[0]
    return f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}{threads}{load}"


def table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = lambda values: "| " + " | ".join(v.rjust(w) for v, w in zip(values, widths)) + " |"  # noqa: E731
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, cells)])


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"

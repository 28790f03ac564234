"""Memory files at scale: the time to detect and import one hand-edited
paragraph file in a long story.

A story of 5,000 paragraphs (Pride and Prejudice, read again from the start
past its ~2,000 paragraphs) is built through our storage code, its memory
files written and its vectors stored, and its vector index loaded, as after
the engine wrote it. Then, several times, one file `memory/long_term/NNNNN.md`
is rewritten the way an editor saves it, and `Novel.import_edits()` is
timed: a stat of every memory file against its recorded mark, reading and
validating the changed one, committing it as a manual-edit step, recording
the new marks, and re-embedding that one paragraph into the index. The check
with nothing edited (what every step pays first) is timed too.

    python bench/memory_files.py                  # 5,000 paragraphs
    python bench/memory_files.py --paragraphs 200 --edits 3
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common  # noqa: E402


class TimedEmbedder:
    """The engine's embedder, adding up the time spent in it."""

    def __init__(self, embedder):
        self.embedder = embedder
        self.dim = embedder.dim
        self.seconds = 0.0

    def embed(self, texts):
        t = time.perf_counter()
        try:
            return self.embedder.embed(texts)
        finally:
            self.seconds += time.perf_counter() - t


def measure(paragraphs: int, edits: int, home: Path, quiet: bool = False) -> dict:
    from memory.embedder import shared_embedder
    from memory.files import paragraph_path

    log = (lambda *a: None) if quiet else (lambda *a: print(*a, file=sys.stderr, flush=True))
    texts = common.take(common.novel_paragraphs(), paragraphs)
    embedder = shared_embedder()
    embedder.embed(["warm up"])
    vectors = common.VectorCache(embedder)
    lib = common.library(home)
    t = time.perf_counter()
    story = common.build_story(lib, "files", texts, vectors)
    vectors.save()
    log(f"built {paragraphs:,} paragraphs in {time.perf_counter() - t:.1f} s")
    novel = lib.open(story)
    novel.long_term.sync(novel.head.id)  # the index in memory, as in a running studio
    novel.import_edits()  # first look: loads the recorded marks
    timed = novel.long_term.embedder = TimedEmbedder(embedder)
    clean, edited, embedding = [], [], []
    for i in range(edits):
        t = time.perf_counter()
        assert novel.import_edits() is None
        clean.append(time.perf_counter() - t)
        number = 1 + (i * 7919) % paragraphs  # spread over the story
        path = novel.folder.path(paragraph_path(number))
        new_text = path.read_text(encoding="utf-8").strip() + f" (Revised by hand, pass {i + 1}.)\n"
        path.write_text(new_text, encoding="utf-8")  # as an editor saves it
        timed.seconds = 0.0
        t = time.perf_counter()
        step = novel.import_edits()
        edited.append(time.perf_counter() - t)
        embedding.append(timed.seconds)
        if step is None or novel.store.paragraphs(story, [number])[number] != new_text.strip():
            raise AssertionError(f"the edit of {path} was not imported")
        if novel.long_term.index is None or novel.long_term.index.step_id != step.id:
            raise AssertionError("the vector index did not follow the edit")
        log(f"edit {i + 1}: paragraph {number}, imported in {common.ms(edited[-1])} ms")
    files = len(novel.folder.existing_paragraph_files())
    return {"paragraphs": paragraphs, "files": files, "clean": clean, "edited": edited, "embedding": embedding}


def report(r: dict) -> str:
    rows = [
        ["nothing edited (check only)", common.ms(common.median(r["clean"])), common.ms(max(r["clean"]))],
        ["one paragraph file edited (detect + import)", common.ms(common.median(r["edited"])), common.ms(max(r["edited"]))],
        ["  of which: embedding the edited paragraph", common.ms(common.median(r["embedding"])),
         common.ms(max(r["embedding"]))],
        ["  of which: everything else", common.ms(common.median([e - m for e, m in zip(r["edited"], r["embedding"])])),
         common.ms(max(e - m for e, m in zip(r["edited"], r["embedding"])))],
    ]
    return "\n".join([
        f"Memory files: {r['paragraphs']:,}-paragraph story ({r['files']:,} paragraph files), "
        f"{len(r['edited'])} edits",
        "",
        common.table(["Novel.import_edits()", "median ms", "max ms"], rows),
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paragraphs", type=int, default=5000)
    parser.add_argument("--edits", type=int, default=9)
    parser.add_argument("--home", type=Path, help="data home (default: a temporary folder)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rgpt-files-") as temp:
        result = measure(args.paragraphs, args.edits, args.home or Path(temp), args.quiet)
    print(report(result))
    print(f"\nMachine: {common.machine()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

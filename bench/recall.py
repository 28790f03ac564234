"""Retrieval recall of planted facts in a real novel.

Twelve facts (four objects, four places, four names) are planted, one
sentence each, into known paragraphs of Pride and Prejudice (after the
paragraph's first sentence). The story is built through our storage code up
to a point several hundred paragraphs later, and there the next step's plan
asks for the fact in other words (two paraphrased plans per fact). A hit is
the planted paragraph among the top 1, 3 or 5 retrieved.

Two queries are compared on the same index, the same story state and the same
embedder:

    original     the plan's embedding against one vector per paragraph (what
                 the original RecurrentGPT does)
    engine       `Novel.context(plan)`: the engine's own retrieval, exactly as
                 a step does it (queries from `recurrentgpt.context.retrieval_queries`,
                 each paragraph stored as its own vector plus one per sentence,
                 scored by its best, see memory/passages.py)

The short-term memory at each point is the story's recent events (first
sentence of each of the latest paragraphs, ~180 words), as a model's running
summary would hold.

    python bench/recall.py                 # 24 queries over 1,200 paragraphs (about a minute once cached)
    python bench/recall.py --facts 3       # a quick look
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common  # noqa: E402


@dataclass(frozen=True)
class Fact:
    kind: str
    planted: str
    plans: tuple[str, ...]


FACTS = [
    Fact("object", "Kitty had hidden a little enamel snuffbox painted with bluebells in the drawer of the hall table.",
         ("Kitty goes looking for the small decorated tobacco case she tucked away in the furniture by the front door.",
          "Someone finds the painted box with the blue flowers that Kitty concealed downstairs.")),
    Fact("object", "Mary kept a brass telescope, a present from her uncle Gardiner, at the bottom of her trunk.",
         ("Mary takes out the spyglass her uncle gave her, which she had packed away in her luggage.",
          "Mary looks at the stars through the instrument from her uncle.")),
    Fact("object", "Jane kept her grandmother's pearl brooch wrapped in a blue silk handkerchief under her pillow.",
         ("Jane unwraps the jewelled pin that belonged to her grandmother and wears it.",
          "The heirloom pin Jane keeps beneath her bed linen goes missing.")),
    Fact("object", "Mr. Bennet had hidden a chess set carved from whalebone behind the almanacs on his study shelf.",
         ("Mr. Bennet fetches the bone-carved game pieces he concealed among his books.",
          "Mr. Bennet challenges Elizabeth to a game with his secret ivory board pieces.")),
    Fact("place", "The officers had found a ruined windmill beyond the turnpike at Meryton, where they meant to picnic.",
         ("The officers and Lydia hold their outdoor luncheon at the derelict mill past the toll road.",
          "Lydia rides out to the broken-down building with sails where the soldiers eat in the open air.")),
    Fact("place", "Elizabeth had once found a hidden grotto of ferns behind a waterfall at the end of the wood.",
         ("Elizabeth seeks out the secret fern-filled cave beneath the cascade among the trees.",
          "Elizabeth walks alone to her hiding place behind the falling water.")),
    Fact("place", "Mrs. Gardiner spoke of a lavender farm in the hills near Matlock where she had spent her girlhood summers.",
         ("Mrs. Gardiner revisits the purple flower fields where she spent her childhood holidays.",
          "The Gardiners travel to the farm of fragrant herbs that Mrs. Gardiner knew as a girl.")),
    Fact("place", "Charlotte's brother kept a fishing boat below the lighthouse on the cliffs at Cromer.",
         ("Charlotte's brother sails from the seaside town with the beacon tower on the headland.",
          "A letter arrives from the coast where the Lucas boy keeps his vessel under the lamp tower.")),
    Fact("name", "A new curate, Mr. Thaddeus Pennyworth, had lately come to the parish and lodged with the sexton.",
         ("The new clergyman who recently arrived in the parish pays a call on the Bennets.",
          "The young assistant to the vicar preaches his first sermon.")),
    Fact("name", "Sir William's coachman, an old Scot called Angus McTavish, had driven the family for thirty years.",
         ("The elderly Scottish driver who has served the Lucases for decades brings the carriage round.",
          "The Lucases' carriage man from Scotland falls ill.")),
    Fact("name", "The Bingleys' French cook, Monsieur Laurent Dubois, was said to have served a duke in Paris.",
         ("The chef from France who once cooked for a nobleman prepares the supper.",
          "Miss Bingley boasts of the foreign kitchen master who worked for an aristocrat.")),
    Fact("name", "The regiment's drummer boy, Tobias Finch, was barely eleven years old.",
         ("The young lad who beats the drum for the militia runs through the town.",
          "The child musician of the soldiers is lost in the market.")),
]


def plant(paragraphs: list[str], facts: list[Fact], first: int = 60, spacing: int = 50,
          gap: int = 300, gap_step: int = 25) -> list[tuple[Fact, int, int]]:
    """Insert each fact into a paragraph near `first + i * spacing` (one of
    30-120 words, so the whole of it fits the embedder's window); returns
    (fact, planted paragraph number, paragraph number the question comes after)."""
    placed = []
    for i, fact in enumerate(facts):
        index = first + i * spacing
        while not 30 <= len(paragraphs[index].split()) <= 120:
            index += 1
        parts = re.split(r"(?<=[.!?])\s", paragraphs[index], maxsplit=1)
        head, tail = parts[0], (parts[1] if len(parts) > 1 else "")
        paragraphs[index] = f"{head} {fact.planted} {tail}".strip()
        placed.append((fact, index + 1, index + 1 + gap + gap_step * i))
    return placed


def measure(facts: list[Fact], home: Path, gap: int, quiet: bool = False, first: int = 60, spacing: int = 50) -> dict:
    from memory.embedder import shared_embedder

    log = (lambda *a: None) if quiet else (lambda *a: print(*a, file=sys.stderr, flush=True))
    paragraphs = common.novel_paragraphs()
    placed = plant(paragraphs, facts, first=first, spacing=spacing, gap=gap)
    vectors = common.VectorCache(shared_embedder())
    lib = common.library(home)
    lib.settings.retrieval_k = 5
    story = "recall"
    ranks: dict[str, list[tuple[Fact, int | None]]] = {"original": [], "engine": []}
    for fact, where, asked in sorted(placed, key=lambda p: p[2]):
        common.build_story(lib, story, paragraphs[:asked], vectors, files=False)
        vectors.save()
        novel = lib.open(story)
        original = whole_paragraph_index(novel)
        for plan in fact.plans:
            context = novel.context(plan)  # the engine's retrieval, exactly as a step does it
            engine = [n for n, _ in context.retrieved]
            exclude = {novel.store.last_paragraph(story)[0]}
            alone = [n for n, _ in original.search(novel.long_term.embedder.embed([plan]), 5, exclude)]
            for name, got in (("original", alone), ("engine", engine)):
                ranks[name].append((fact, got.index(where) + 1 if where in got else None))
            log(f"[{fact.kind}] planted in {where}, asked after {asked}: original {alone}, engine {engine}")
    return {"ranks": ranks, "placed": placed, "length": max(p[2] for p in placed)}


def whole_paragraph_index(novel):
    """The index the original RecurrentGPT searches: one vector per paragraph
    (the first of each stored set is the whole paragraph's)."""
    import numpy as np

    from memory.index import ParagraphIndex

    dim = novel.long_term.embedder.dim
    numbers, ids, blobs = novel.store.live_embeddings(novel.id)
    index = ParagraphIndex(dim)
    index.add_many(numbers, ids, [np.frombuffer(blob, dtype=np.float32).reshape(-1, dim)[:1] for blob in blobs])
    return index


def recall(ranks: list[tuple[Fact, int | None]], k: int, kind: str | None = None) -> float:
    chosen = [r for f, r in ranks if kind is None or f.kind == kind]
    return sum(1 for r in chosen if r is not None and r <= k) / len(chosen)


def report(result: dict) -> str:
    ranks = result["ranks"]
    queries = len(ranks["engine"])
    gaps = [asked - where for _, where, asked in result["placed"]]
    rows = [[name, f"{recall(r, 1):.2f}", f"{recall(r, 3):.2f}", f"{recall(r, 5):.2f}"] for name, r in ranks.items()]
    kinds = sorted({f.kind for f, _ in ranks["engine"]})
    by_kind = [[kind, *(f"{recall(ranks[name], 3, kind):.2f}" for name in ranks)] for kind in kinds]
    return "\n".join([
        f"Recall of planted facts ({queries} paraphrased plans, {len(result['placed'])} facts, asked "
        f"{min(gaps)}-{max(gaps)} paragraphs after the fact, story up to {result['length']:,} paragraphs)",
        "",
        common.table(["query", "recall@1", "recall@3", "recall@5"], rows),
        "",
        common.table(["recall@3 by kind", *ranks], by_kind),
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--facts", type=int, default=len(FACTS), help=f"how many of the {len(FACTS)} facts to plant")
    parser.add_argument("--gap", type=int, default=300, help="paragraphs between the first fact and its question")
    parser.add_argument("--first", type=int, default=60, help="paragraph the first fact is planted near")
    parser.add_argument("--spacing", type=int, default=50, help="paragraphs between planted facts")
    parser.add_argument("--home", type=Path, help="data home (default: a temporary folder)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rgpt-recall-") as temp:
        result = measure(FACTS[: args.facts], args.home or Path(temp), args.gap, args.quiet, args.first, args.spacing)
    print(report(result))
    print(f"\nMachine: {common.machine()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Engine step overhead and prompt size against story length, compared in the
same run with a step that re-embeds every paragraph (the original
RecurrentGPT's retrieval).

For each length (default 10, 100, 1,000 and 5,000 paragraphs of Pride and
Prejudice, read again from the start past its ~2,000 paragraphs) a story is
built through our storage code (`StoryStore.commit_step`, one paragraph a
step; memory files written; vectors pre-embedded in batches and stored).
Then, in this one persistent process, `Novel.write` runs steps against an
instant loopback OpenAI-compatible server (tests/support/openai_server.py)
that answers with the next paragraph of the novel. The engine's own timings
give the overhead: the step's wall time less the model call (`overhead_s`:
reading back the memory files, context building with retrieval, commit,
memory files, vector index).

Baseline: the same engine, the same story and the same embedder, with the
retrieval replaced by what the original does every step: embed every
paragraph of the story and the plan, rank by cosine similarity.

    python bench/step_overhead.py                      # 10,100,1000,5000 (a few minutes)
    python bench/step_overhead.py --lengths 10,100 --steps 3 --baseline-steps 1
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import common  # noqa: E402

PLANS = [
    "Elizabeth walks to Netherfield through the muddy fields to nurse Jane.",
    "Mr. Collins proposes to Elizabeth and is refused.",
    "Lady Catherine calls at Longbourn to forbid an engagement.",
    "Mr. Darcy's letter explains what happened with Mr. Wickham.",
    "Lydia's elopement with Wickham is discovered.",
]
STAGES = ("context_s", "commit_s", "files_s", "index_s")


def reembedding_novel_class():
    """`Novel` whose retrieval re-embeds the whole story each step, as the
    original RecurrentGPT does; everything else is the engine's."""
    from recurrentgpt.novel import Novel

    class ReembeddingNovel(Novel):
        def _recall(self, plan, short_term, head_id, exclude):
            numbers, texts = zip(*self.store.paragraphs(self.id).items())
            vectors = self.long_term.embedder.embed(list(texts))
            query = self.long_term.embedder.embed([plan])[0]
            scores = vectors @ query
            order = [i for i in np.argsort(-scores) if numbers[i] not in exclude]
            return [(numbers[i], float(scores[i])) for i in order[: self.settings.retrieval_k]]

        def _index_follow(self, step_id, changed, previous):
            pass  # no index: everything is embedded again at the next step

    return ReembeddingNovel


def run_steps(novel, backend, count: int, offset: int = 0) -> list[dict]:
    timings = []
    for i in range(count):
        step = novel.write(PLANS[(offset + i) % len(PLANS)], backend)
        t = dict(step.timings)
        t["other_s"] = t["overhead_s"] - sum(t.get(k, 0.0) for k in STAGES)
        timings.append(t)
    return timings


def measure(lengths: list[int], steps: int, baseline_steps: int, home: Path, quiet: bool = False,
            baseline_max: int | None = None) -> list[dict]:
    from memory.embedder import shared_embedder
    from tests.support.openai_server import FakeOpenAIServer

    log = (lambda *a: None) if quiet else (lambda *a: print(*a, file=sys.stderr, flush=True))
    paragraphs = common.novel_paragraphs()
    embedder = shared_embedder()
    embedder.embed(["warm up"])
    vectors = common.VectorCache(embedder)
    Reembedding = reembedding_novel_class()
    results = []
    responder = common.ProseResponder(paragraphs)
    with FakeOpenAIServer(responder) as server:
        lib = common.library(home, server.base_url)
        backend = lib.backend()
        # Warm the process (model kernels, HTTP client, database) on a throwaway story first.
        common.build_story(lib, "bench-warm-up", paragraphs[:5], vectors)
        run_steps(lib.open("bench-warm-up"), backend, 3)
        run_steps(Reembedding(lib, "bench-warm-up"), backend, 1)
        novels, tokens, ours = {}, {}, {n: [] for n in lengths}
        for n in lengths:
            t = time.perf_counter()
            story = common.build_story(lib, f"bench-{n}", common.take(paragraphs, n), vectors)
            vectors.save()
            log(f"[{n} paragraphs] built in {time.perf_counter() - t:.1f} s")
            novels[n] = lib.open(story)
            tokens[n] = [novels[n].context(plan).tokens for plan in PLANS]
            responder.n = n
            run_steps(novels[n], backend, 1)  # warm-up: loads the index from the stored vectors
        # Engine steps round-robin over the lengths, so that a burst of load from
        # other processes hits every length alike.
        for i in range(steps):
            for n in lengths:
                responder.n = n + 1 + i
                ours[n] += run_steps(novels[n], backend, 1, offset=1 + i)
        for n in lengths:
            log(f"[{n} paragraphs] engine: median overhead {common.ms(common.median([t['overhead_s'] for t in ours[n]]))} ms")
            novels[n].close()
            base = []
            if baseline_max is None or n <= baseline_max:
                base = run_steps(Reembedding(lib, novels[n].id), backend, baseline_steps, offset=1)
                log(f"[{n} paragraphs] re-embedding: median overhead "
                    f"{common.ms(common.median([t['overhead_s'] for t in base]))} ms")
            results.append({
                "paragraphs": n,
                "tokens_min": min(tokens[n]), "tokens_max": max(tokens[n]),
                "ours": ours[n], "baseline": base,
                "ours_overhead": common.median([t["overhead_s"] for t in ours[n]]),
                "baseline_overhead": common.median([t["overhead_s"] for t in base]),
                "ours_stages": {k: common.median([t.get(k, 0.0) for t in ours[n]]) for k in (*STAGES, "other_s")},
                "model": common.median([t["model_s"] for t in ours[n]]),
            })
    return results


def report(results: list[dict], steps: int, baseline_steps: int) -> str:
    first = results[0]["ours_overhead"]
    rows = []
    for r in results:
        rows.append([
            f"{r['paragraphs']:,}", common.ms(r["ours_overhead"]), f"{r['ours_overhead'] / first:.2f}x",
            *([common.ms(r["baseline_overhead"]), f"{r['baseline_overhead'] / r['ours_overhead']:,.1f}x"]
              if r["baseline"] else ["not run", "-"]),
            f"{r['tokens_min']:,}-{r['tokens_max']:,}",
        ])
    out = [
        f"Step overhead (median of {steps} engine steps, {baseline_steps} re-embedding steps; model time excluded)",
        "",
        common.table(["paragraphs", "engine ms", "vs first", "re-embed ms", "re-embed / engine", "prompt tokens"], rows),
        "",
        "Where the engine's overhead goes (median ms; `other` is reading back the memory files and bookkeeping)",
        "",
        common.table(["paragraphs", "context", "commit", "files", "index", "other", "model (loopback)"], [
            [f"{r['paragraphs']:,}", *(common.ms(r["ours_stages"][k]) for k in (*STAGES, "other_s")),
             common.ms(r["model"])] for r in results
        ]),
    ]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lengths", default="10,100,1000,5000", help="story lengths in paragraphs")
    parser.add_argument("--steps", type=int, default=9, help="engine steps measured at each length")
    parser.add_argument("--baseline-steps", type=int, default=2, help="re-embedding steps at each length")
    parser.add_argument("--baseline-max", type=int, help="skip the re-embedding baseline above this length")
    parser.add_argument("--home", type=Path, help="data home (default: a temporary folder)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    lengths = [int(x) for x in args.lengths.split(",")]
    with tempfile.TemporaryDirectory(prefix="rgpt-bench-") as temp:
        results = measure(lengths, args.steps, args.baseline_steps, args.home or Path(temp), args.quiet,
                          args.baseline_max)
    print(report(results, args.steps, args.baseline_steps))
    print(f"\nMachine: {common.machine()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The benchmark scripts run end to end at a tiny size and print their tables.
(The benchmarks themselves are not part of the suite: see bench/README.md.)"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.usefixtures("embedder")


@pytest.fixture(autouse=True)
def no_disk_cache(tmp_path, monkeypatch):
    """Vectors cached under the test's folder, not in bench/.cache."""
    from bench import common

    monkeypatch.setattr(common, "CACHE", tmp_path / "cache")


def test_step_overhead_prints_both_and_the_ratio(tmp_path, capsys):
    from bench import step_overhead

    assert step_overhead.main(["--lengths", "3,6", "--steps", "1", "--baseline-steps", "1",
                               "--home", str(tmp_path / "home"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "re-embed / engine" in out and "prompt tokens" in out
    rows = [line for line in out.splitlines() if line.startswith("|") and line.split("|")[1].strip() in ("3", "6")]
    assert len(rows) == 4  # two lengths, two tables


def test_reembedding_baseline_retrieves_like_the_original(tmp_path):
    """The baseline embeds every paragraph at each step and ranks by cosine."""
    from bench import common, step_overhead
    from memory.embedder import shared_embedder

    lib = common.library(tmp_path / "home")
    texts = ["Mara lit the lamp at dusk.", "The ship struck the reef in the storm.", "Tea was served in the garden."]
    common.build_story(lib, "tiny", texts, common.VectorCache(shared_embedder(), None))
    novel = step_overhead.reembedding_novel_class()(lib, "tiny")
    got = novel._recall("A vessel is wrecked on rocks during a gale.", "", novel.head.id, exclude={3})
    assert got[0][0] == 2 and 3 not in [n for n, _ in got]


def test_recall_reports_both_queries(tmp_path, capsys):
    from bench import recall

    assert recall.main(["--facts", "2", "--gap", "5", "--first", "3", "--spacing", "8", "--home", str(tmp_path / "home"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "original" in out and "engine" in out and "recall@3" in out


def test_planting_puts_each_fact_in_its_paragraph():
    from bench import common, recall

    paragraphs = common.novel_paragraphs()
    placed = recall.plant(paragraphs, recall.FACTS, first=3, spacing=12)
    for fact, where, asked in placed:
        assert fact.planted in paragraphs[where - 1]
        assert asked - where >= 300


def test_memory_files_imports_hand_edits(tmp_path, capsys):
    from bench import memory_files

    assert memory_files.main(["--paragraphs", "12", "--edits", "2", "--home", str(tmp_path / "home"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "one paragraph file edited" in out and "12-paragraph story (12 paragraph files)" in out

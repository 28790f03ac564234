"""A long-running writer notices every hand edit, with a folder watch
instead of a stat of every file, and falls back to a full check when the
watch is lost."""

import shutil

from memory.watch import FolderWatch
from recurrentgpt.library import Library


def test_a_watch_reports_written_created_and_deleted_names(tmp_path):
    (tmp_path / "00001.md").write_text("one")
    watch = FolderWatch(tmp_path)
    assert watch.active and watch.touched() == set()
    (tmp_path / "00001.md").write_text("one, edited in place")
    (tmp_path / "00002.md").write_text("two")
    assert watch.touched() == {"00001.md", "00002.md"}
    (tmp_path / "00002.md").unlink()
    assert watch.touched() == {"00002.md"}
    shutil.rmtree(tmp_path)
    assert watch.touched() is None and not watch.active  # lost: the caller checks everything


def test_every_hand_edit_between_steps_of_one_process_is_imported(story, server, home, embedder):
    library = Library(embedder=embedder)
    novel = library.open(story)
    backend = library.backend()
    long_term = home / "stories" / story / "memory" / "long_term"
    for _ in range(3):
        novel.write("1", backend)
    assert novel.files._watch is not None and novel.files._watch.active
    (long_term / "00002.md").write_text("Mara found a whistle carved from driftwood.\n")  # in place
    novel.write("1", backend)
    assert novel.paragraphs()[2] == "Mara found a whistle carved from driftwood."
    (long_term / "00003.md").unlink()
    (long_term / "00042.md").write_text("A gull nests on the lamp.\n")
    novel.write("1", backend)
    numbers = list(novel.paragraphs())
    assert 3 not in numbers and 42 in numbers
    assert [s.kind for s in library.store.steps(story)].count("edit") == 2
    assert novel.check() == []

"""History is a tree: undo, branches, regenerate with alternatives."""

from recurrentgpt.library import Library


def _files(home, story):
    folder = home / "stories" / story / "memory"
    return {p.relative_to(folder): p.read_text() for p in folder.rglob("*.md")}


def test_undo_restores_files_and_database_and_keeps_the_undone_step(cli, story, server, home):
    assert cli("write", story).code == 0
    files_before = _files(home, story)
    assert cli("write", story).code == 0
    undone = Library().store.head(story)
    result = cli("undo", story)
    assert result.code == 0, result.err
    assert _files(home, story) == files_before
    library = Library()
    assert library.store.head(story).id == undone.parent_id
    assert undone.id in [s.id for s in library.store.steps(story)]
    assert cli("memory", story, "--check").code == 0


def test_undo_then_write_starts_a_branch_and_retrieval_sees_only_the_current_one(cli, story, server, home):
    from tests.support.novelist import step_reply

    server.enqueue(step_reply(200, extra="The keeper buried a jade whistle beneath the old pier. "))
    assert cli("write", story).code == 0
    old_branch = Library().store.head(story)
    assert cli("undo", story).code == 0
    assert cli("write", story, "--steps", "3").code == 0
    assert cli("write", story, "--plan", "Mara searches for the jade whistle under the pier").code == 0
    prompt = server.requests[-1].prompt
    assert "jade whistle beneath the old pier" not in prompt
    library = Library()
    steps = library.store.steps(story)
    start = steps[0]
    assert len([s for s in library.store.children(start.id) if s.kind == "write"]) == 2
    assert old_branch.id in [s.id for s in steps]
    novel = library.open(story)
    assert all("jade whistle" not in text for text in novel.paragraphs().values())
    assert not any("jade" in p.read_text() for p in (home / "stories" / story / "memory" / "long_term").iterdir())


def test_regenerate_keeps_alternatives_and_switching_restores_each(story, server, home, embedder):
    library = Library()
    novel = library.open(story)
    backend = library.backend()
    first = novel.write("1", backend)
    second = novel.write("", backend, regenerate=True)
    assert second.parent_id == first.parent_id
    assert [s.id for s in novel.alternatives()] == [first.id, second.id]
    assert novel.paragraphs()[2] == second.parsed["Paragraph"]
    novel.switch_to(first.id)
    assert novel.paragraphs()[2] == first.parsed["Paragraph"]
    text = (home / "stories" / story / "memory" / "long_term" / "00002.md").read_text().strip()
    assert text == first.parsed["Paragraph"]


def test_a_failed_regenerate_leaves_the_story_exactly_as_it_was(story, server, home, embedder):
    from recurrentgpt.errors import MalformedReply

    library = Library()
    novel = library.open(story)
    backend = library.backend()
    novel.write("1", backend)
    written = novel.write("2", backend)
    before = (novel.refresh().version, _files(home, story), dict(novel.paragraphs()))
    server.enqueue("no sections at all", "still none", "nothing")
    try:
        novel.write("", backend, regenerate=True)
    except MalformedReply:
        pass
    else:
        raise AssertionError("the regenerate should have failed")
    assert (novel.refresh().version, _files(home, story), dict(novel.paragraphs())) == before
    assert novel.head.id == written.id
    # The regenerate's prompt was the one of the replaced step: same previous paragraph, same plan.
    assert server.requests[-3].messages[-1]["content"] == written.prompt[-1]["content"]


def test_story_md_is_always_the_novel_of_the_current_branch(story, server, home, embedder):
    from memory.files import render_story

    library = Library()
    novel = library.open(story)
    backend = library.backend()
    story_md = home / "stories" / story / "story.md"

    def expected():
        return render_story(novel.head.title, list(novel.paragraphs().values()))

    novel.write("1", backend)  # appended
    novel.write("2", backend)
    assert story_md.read_text() == expected()
    novel.write("1", backend, regenerate=True)  # the last paragraph replaced
    assert story_md.read_text() == expected()
    novel.edit(paragraphs={2: "Mara wrote in the log that the door had moved."})  # a change in the middle
    assert story_md.read_text() == expected()
    (home / "stories" / story / "memory" / "long_term" / "00002.md").unlink()  # by hand
    novel.write("1", backend)
    assert story_md.read_text() == expected()
    assert "door had moved" not in story_md.read_text()

"""Two real processes write the same story at once: both read the same
version and wait on the model together; one wins, the other gets a clear
error, and nothing is half-applied."""

from __future__ import annotations

from tests.reliability.conftest import assert_clean_failure, files_match_database, lost_paragraphs, snapshot, wait_until
from tests.support.novelist import step_reply
from tests.support.openai_server import Fault


class _Result:
    def __init__(self, process):
        self.code, self.out, self.err = process.status, process.out, process.err


def test_two_processes_write_the_same_story(cli, story, server, home, forkserver, tally):
    for round_ in range(3):
        before = snapshot(home, story)
        seen = len(server.requests)
        # Both requests are held until both processes have asked, so both
        # computed their step from the same version of the story.
        replies = {f"Contender {round_}-{i}. ": Fault(stall=1.0 + 0.3 * i, content=step_reply(700 + i, f"Contender {round_}-{i}. "))
                   for i in range(2)}
        server.enqueue(*replies.values())
        first = forkserver.spawn("write", story)
        second = forkserver.spawn("write", story)
        assert wait_until(lambda: len(server.requests) >= seen + 2, timeout=60)
        results = [_Result(p) for p in (first, second) if p.wait() is not None]
        codes = sorted(r.code for r in results)
        assert codes == [0, 1], [(r.code, r.err) for r in results]
        loser = next(r for r in results if r.code == 1)
        assert_clean_failure(loser, "changed elsewhere", "nothing was saved")
        after = snapshot(home, story)
        assert lost_paragraphs(before, after) == 0
        assert len(after.paragraphs) == len(before.paragraphs) + 1
        assert after.steps == before.steps + 1  # the loser left no step behind
        new = after.paragraphs[max(after.paragraphs)]
        assert sum(marker in new for marker in replies) == 1
        assert files_match_database(home, story) == []
        assert cli("memory", story, "--check").code == 0
        tally.record("two processes write the same story at once", survived=True,
                     lost=lost_paragraphs(before, after))

"""Running a model call in a worker thread and following its text.

The engine calls `on_text` from the thread that talks to the model; a Gradio
generator handler cannot yield from there, so chunks go through a queue and
the handler yields the reply-so-far as they arrive. Everything queued since
the last yield is taken at once, so a fast model never backs up the page.
"""

import queue
import threading
from typing import Callable, Generator, TypeVar

from recurrentgpt.backends.base import RESTART

T = TypeVar("T")
_DONE = object()


def follow(work: Callable[[Callable[[str], None], threading.Event], T],
           cancel: threading.Event) -> Generator[str, None, T]:
    """Run `work(on_text, cancel)` in a thread; yield the whole reply text so
    far after each batch of chunks; return what `work` returned (or raise
    what it raised). If the page goes away (the generator is closed), the
    model is told to stop, so nothing half-written is saved."""
    chunks: queue.Queue = queue.Queue()
    outcome: dict = {}

    def run():
        try:
            outcome["value"] = work(chunks.put, cancel)
        except BaseException as error:  # handed to the generator, raised there
            outcome["error"] = error
        finally:
            chunks.put(_DONE)

    thread = threading.Thread(target=run, name="studio-writer", daemon=True)
    thread.start()
    text, finished = "", False
    try:
        while not finished:
            batch = [chunks.get()]
            while True:
                try:
                    batch.append(chunks.get_nowait())
                except queue.Empty:
                    break
            grew = False
            for chunk in batch:
                if chunk is _DONE:
                    finished = True
                elif chunk == RESTART:  # the backend retried: what came so far is void
                    text, grew = "", True
                else:
                    text, grew = text + chunk, True
            if grew:
                yield text
    finally:
        if not finished:
            cancel.set()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def relay(work: Callable[[Callable[[str], None], threading.Event], T], cancel: threading.Event,
          update: Callable[[str], tuple]) -> Generator[tuple, None, T]:
    """`follow` the work, yielding `update(reply_so_far)` (the handler's
    outputs while it writes) for each batch of text; return the work's result."""
    lines = follow(work, cancel)
    try:
        while True:
            try:
                raw = next(lines)
            except StopIteration as done:
                return done.value
            yield update(raw)
    finally:
        lines.close()

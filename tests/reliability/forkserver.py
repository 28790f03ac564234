"""A pre-warmed parent for real CLI processes that the tests can SIGKILL.

Loading the embedder takes seconds, which would make every killed process
slow to start. This script loads it once, then, for each request read from
stdin as one JSON line, forks a child that runs the real `recurrentgpt`
command line (`app.cli.main`) with its own environment and its stdout and
stderr in files. The child is a separate process like any other: the tests
kill it with SIGKILL from outside, or it kills itself with SIGKILL at a named
crash point (``"crash": {"target": "memory.store:StoryStore.commit_step",
"when": "after", "nth": 1}``), which lands a hard kill exactly between two
operations of the engine.

Protocol (one JSON object per line each way):
  {"op": "run", "argv": [...], "env": {...}, "stdout": PATH, "stderr": PATH, "crash": {...}?} -> {"pid": N}
  {"op": "wait", "pid": N} -> {"pid": N, "status": S}   (S: exit code, or -signal)
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys


def _install_crash(target: str, when: str, nth: int) -> None:
    module_name, attr = target.split(":")
    owner = importlib.import_module(module_name)
    *path, name = attr.split(".")
    for part in path:
        owner = getattr(owner, part)
    original = getattr(owner, name)
    calls = 0

    def crash_point(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == nth and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        result = original(*args, **kwargs)
        if calls == nth and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)
        return result

    if isinstance(owner, type) and isinstance(owner.__dict__.get(name), staticmethod):
        crash_point = staticmethod(crash_point)
    setattr(owner, name, crash_point)


def _child(request: dict) -> None:
    os.environ.clear()
    os.environ.update(request["env"])
    out = os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    err = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(out, 1)
    os.dup2(err, 2)
    os.close(out)
    os.close(err)
    code = 1
    try:
        if request.get("crash"):
            crash = request["crash"]
            _install_crash(crash["target"], crash.get("when", "after"), int(crash.get("nth", 1)))
        from app.cli import main

        try:
            code = main(request["argv"])
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 99
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code if isinstance(code, int) else 1)


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import torch

    torch.set_num_threads(1)  # no thread pool to inherit across fork
    from memory.embedder import shared_embedder

    shared_embedder().embed(["warm up"])
    import app.cli  # noqa: F401  everything the commands import, loaded once
    import app.commands  # noqa: F401
    import faiss  # noqa: F401
    import openai  # noqa: F401
    import tqdm  # noqa: F401

    import recurrentgpt.backends.hosted  # noqa: F401
    import recurrentgpt.export  # noqa: F401
    import recurrentgpt.library  # noqa: F401

    reply = sys.stdout
    reply.write(json.dumps({"ready": True}) + "\n")
    reply.flush()
    for line in sys.stdin:
        request = json.loads(line)
        if request["op"] == "run":
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                _child(request)
            reply.write(json.dumps({"pid": pid}) + "\n")
        elif request["op"] == "wait":
            _, status = os.waitpid(request["pid"], 0)
            code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            reply.write(json.dumps({"pid": request["pid"], "status": code}) + "\n")
        reply.flush()


if __name__ == "__main__":
    main()

"""`recurrentgpt play STORY`: interactive fiction in the terminal.

Reads one line at a time: 1, 2 or 3 takes that choice, any other line is
the reader's own action, and lines starting with ':' are commands. Works the
same with piped input (no prompts are printed then) and ends at end of
input; it never asks for anything, the persona included.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TextIO

from recurrentgpt.errors import USER_ERRORS, RecurrentGPTError
from recurrentgpt.fiction import Branch, PlaySession, Scene, SceneStream

HELP = """Type 1, 2 or 3 to take a choice, or write what you do in your own words.
  :back [N]         go back N turns (default 1); the turns left behind stay as a branch
  :branches         list the branches of the story
  :branch N         go to the end of branch N
  :persona TEXT     change who the story is written for
  :export FILE      save the path you took as Markdown
  :help             this help
  :quit             stop playing (end of input does the same)"""


def show_scene(scene: Scene, out: TextIO) -> None:
    where = f"turn {scene.turn}" + (f", branch {scene.branch} of {scene.branches}" if scene.branches > 1 else "")
    out.write(f"\n# {scene.title} ({where})\n\n")
    if scene.action:
        out.write(f"> You: {scene.action.strip()}\n\n")
    out.write(scene.text.strip() + "\n\n")
    for i, choice in enumerate(scene.choices, start=1):
        out.write(f"{i}. {choice.strip()}\n")
    out.flush()


def show_branches(branches: list[Branch], out: TextIO) -> None:
    out.write("\nBranches (* marks where you are):\n")
    for b in branches:
        mark = "*" if b.here else " "
        origin = "from the opening" if b.forks_at is None else f"from turn {b.forks_at}: {_short(b.first_action)}"
        out.write(f"{mark}{b.number:>3}. {b.turns} turn(s), {origin}\n")
    out.flush()


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class _Streamer:
    """Prints the scene as it streams (only to a terminal)."""

    def __init__(self, out: TextIO):
        self.out = out
        self.stream = SceneStream()
        self.shown = ""

    def __call__(self, chunk: str) -> None:
        text = self.stream.feed(chunk)
        if text.startswith(self.shown):
            self.out.write(text[len(self.shown):])
            self.shown = text
        self.out.flush()


def play(library, story_id: str, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> int:
    """Run a play session until `:quit` or end of input. Exit code 0, or 1
    when some line failed (the story is then as it was before that line)."""
    session = PlaySession.open(library, story_id)
    interactive = stdin.isatty()
    streaming = interactive and stdout.isatty()
    failed = False
    try:
        show_scene(session.scene(), stdout)
        if interactive:
            stdout.write("\n" + HELP.splitlines()[0] + " :help lists the commands.\n")
        while True:
            if interactive:
                stdout.write("\n> ")
                stdout.flush()
            line = stdin.readline()
            if not line:
                break
            line = line.strip()
            if not line:
                continue
            try:
                if line.startswith(":"):
                    if not _command(session, line, stdout, stderr):
                        break
                    continue
                if streaming:
                    stdout.write("\n")
                    scene = session.act(line, on_text=_Streamer(stdout))
                else:
                    stderr.write(f"Writing turn {session.turns()[-1].number + 1}…\n")
                    stderr.flush()
                    scene = session.act(line)
                show_scene(scene, stdout)
            except USER_ERRORS as error:
                failed = True
                stderr.write(f"error: {error}\n")
                stderr.flush()
    finally:
        session.close()
    return 1 if failed else 0


def _command(session: PlaySession, line: str, out: TextIO, err: TextIO) -> bool:
    """Run one ':' command; False means stop playing."""
    name, _, rest = line[1:].partition(" ")
    name, rest = name.lower(), rest.strip()
    if name in ("quit", "q", "exit"):
        return False
    if name == "help":
        out.write(HELP + "\n")
    elif name == "back":
        show_scene(session.back(_number(rest or "1", "back")), out)
    elif name == "branches":
        show_branches(session.branches(), out)
    elif name == "branch":
        show_scene(session.switch(_number(rest, "branch")), out)
    elif name == "persona":
        if not rest:
            out.write(f"You are: {session.scene().persona or '(no persona)'}\n")
        else:
            session.set_persona(rest)
            out.write("From now on the story is written for: " + _short(rest, 200) + "\n")
    elif name == "export":
        if not rest:
            out.write(session.playthrough_markdown())
        else:
            path = Path(shlex.split(rest)[0]).expanduser()
            try:
                path.write_text(session.playthrough_markdown(), encoding="utf-8")
            except OSError as error:
                raise RecurrentGPTError(f"Cannot write {path}: {error.strerror}.") from None
            err.write(f"Wrote {path}.\n")
    else:
        raise RecurrentGPTError(f"Unknown command :{name}; :help lists the commands.")
    out.flush()
    return True


def _number(text: str, command: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise RecurrentGPTError(f":{command} needs a number, for example :{command} 2.") from None

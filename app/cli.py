"""The `recurrentgpt` command line (the contract is in DESIGN.md).

Exit codes: 0 success, 1 a failure the user can act on (one or two lines on
stderr saying what to do), 2 bad usage. Heavy imports happen inside the
commands, so `--help` is instant.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recurrentgpt", description="Write novels of any length with a language model.")
    parser.add_argument("--home", help="data folder (default: $RECURRENTGPT_HOME or a per-user folder)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    new = commands.add_parser("new", help="start a story from a premise; prints its id last")
    new.add_argument("--premise", required=True)
    new.add_argument("--title", default="")
    new.add_argument("--genre", default="")
    new.add_argument("--lang", default="en", choices=["en", "zh"])
    new.add_argument("--mode", default="novel", choices=["novel", "fiction"])
    persona = new.add_mutually_exclusive_group()
    persona.add_argument("--persona", default="", help="the reader, for interactive fiction")
    persona.add_argument("--persona-file", type=Path, help="read the persona from a file")

    write = commands.add_parser("write", help="write the next paragraphs")
    write.add_argument("story")
    write.add_argument("--steps", type=int, default=1)
    write.add_argument("--plan", default="1", help='1, 2, 3, auto, or an instruction in quotes')

    undo = commands.add_parser("undo", help="go back to an earlier step (kept in history as a branch)")
    undo.add_argument("story")
    undo.add_argument("--steps", type=int, default=1)

    play = commands.add_parser("play", help="interactive fiction in the terminal")
    play.add_argument("story")

    show = commands.add_parser("show", help="print the novel")
    show.add_argument("story")
    show.add_argument("--memory", action="store_true", help="print the memories and plans instead")

    memory = commands.add_parser("memory", help="the story's memory files")
    memory.add_argument("story")
    what = memory.add_mutually_exclusive_group(required=True)
    what.add_argument("--path", action="store_true", help="print the story folder")
    what.add_argument("--check", action="store_true", help="check that files, database and index agree")
    what.add_argument("--reindex", action="store_true", help="rebuild the vector index from the database")

    export = commands.add_parser("export", help="the novel as a file")
    export.add_argument("story")
    export.add_argument("--format", default="md", choices=["md", "txt", "epub"])
    export.add_argument("-o", "--output", type=Path)
    export.add_argument("--author", help="the author named in an EPUB (default: $RECURRENTGPT_AUTHOR)")

    ui = commands.add_parser("ui", help="the writing studio in the browser")
    ui.add_argument("--host", default="127.0.0.1")
    ui.add_argument("--port", type=int, default=7860)
    ui.add_argument("--auth", help="USER:PASSWORD (or RECURRENTGPT_AUTH); required off loopback")

    imp = commands.add_parser("import", help="make a story from a story folder (memory files)")
    imp.add_argument("folder", type=Path)

    bible = commands.add_parser("bible", help="the story bible: entries the prompt carries when the story names them")
    bible.add_argument("story")
    action = bible.add_mutually_exclusive_group()
    action.add_argument("--list", action="store_true", help="list the entries (the default)")
    action.add_argument("--import", dest="import_file", type=Path, metavar="FILE",
                        help="add the entries of a JSON file: ours, or SillyTavern / KoboldAI World Info")
    action.add_argument("--export", type=Path, metavar="FILE", help="write the bible as JSON")
    action.add_argument("--next", metavar="PLAN", help="which entries the next step would use for PLAN (1, 2, 3 or text)")
    action.add_argument("--suggestions", action="store_true", help="the model's pending entry suggestions")
    action.add_argument("--accept", metavar="NAME", help="make a suggestion a bible entry")
    action.add_argument("--reject", metavar="NAME", help="drop a suggestion (its name is not suggested again)")
    bible.add_argument("--world-info", action="store_true", help="with --export: as a SillyTavern World Info file")

    commands.add_parser("list", help="list the stories")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.home:
        os.environ["RECURRENTGPT_HOME"] = args.home
    from recurrentgpt.errors import USER_ERRORS

    try:
        from app import commands

        return getattr(commands, "cmd_" + args.command)(args) or 0
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Stopped; nothing half-written was saved.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

"""What each CLI command does; `app.cli` parses the arguments."""

from __future__ import annotations

import sys

from recurrentgpt.errors import RecurrentGPTError


def _library():
    from recurrentgpt.library import Library

    return Library()


def _progress(total: int, desc: str):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="step", file=sys.stderr, disable=total <= 1 or None, leave=False)


def cmd_new(args) -> int:
    persona = args.persona
    if args.persona_file:
        try:
            persona = args.persona_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise RecurrentGPTError(f"Cannot read the persona file {args.persona_file}: {error}") from None
    library = _library()
    novel = library.start(premise=args.premise, title=args.title, genre=args.genre, lang=args.lang, mode=args.mode,
                          persona=persona, backend=library.backend())
    head = novel.head
    print(f"# {head.title}\n")
    print(novel.paragraphs()[1] + "\n")
    for i, plan in enumerate(head.plans, start=1):
        print(f"Plan {i}: {plan}")
    print(novel.id)
    return 0


def cmd_write(args) -> int:
    if args.steps < 1:
        raise RecurrentGPTError("--steps must be at least 1.")
    library = _library()
    novel = library.open(args.story)
    backend = library.backend()
    try:
        with _progress(args.steps, f"Writing {novel.id}") as bar:
            for _ in range(args.steps):
                step = novel.write(args.plan, backend)
                text = step.parsed.get("Paragraph", "")
                bar.write(text + "\n", file=sys.stdout)
                bar.update(1)
    finally:
        novel.close()
    head = novel.head
    for i, plan in enumerate(head.plans, start=1):
        print(f"Plan {i}: {plan}")
    return 0


def cmd_undo(args) -> int:
    novel = _library().open(args.story)
    head = novel.undo(args.steps)
    print(f"{novel.id} is back at step {head.id} ({head.paragraph_count} paragraphs).")
    return 0


def cmd_show(args) -> int:
    from recurrentgpt.export import novel_markdown

    novel = _library().open(args.story)
    if args.memory:
        head = novel.head
        print(f"# {head.title}\n\n## Outline\n\n{head.outline}\n\n## Short-term memory\n\n{head.short_term}\n")
        for i, plan in enumerate(head.plans, start=1):
            print(f"## Plan {i}\n\n{plan}\n")
    else:
        sys.stdout.write(novel_markdown(novel))
    return 0


def cmd_memory(args) -> int:
    library = _library()
    novel = library.open(args.story)
    if args.path:
        print(novel.folder.root)
        return 0
    if args.reindex:
        size = novel.reindex()
        print(f"Rebuilt the vector index of {novel.id} from the database: {size} paragraphs.")
        return 0
    problems = novel.check()
    if problems:
        for problem in problems:
            print(f"- {problem}", file=sys.stderr)
        print(f"{novel.id}: {len(problems)} problem(s); `recurrentgpt write` imports hand edits, "
              "`--reindex` rebuilds the index.", file=sys.stderr)
        return 1
    print(f"{novel.id}: database, memory files and vector index agree (step {novel.info.head_step_id}).")
    return 0


def cmd_export(args) -> int:
    from recurrentgpt.export import export_novel

    novel = _library().open(args.story)
    data = export_novel(novel, args.format, author=getattr(args, "author", None))
    if args.output is None:
        if args.format == "epub":
            raise RecurrentGPTError("An EPUB is binary: give a file with -o FILE.")
        sys.stdout.write(data.decode("utf-8"))
        return 0
    home = novel.library.settings.home.resolve()
    if args.output.resolve().is_relative_to(home):
        # The database, memory files and index live there: an export must never overwrite them.
        raise RecurrentGPTError(f"Cannot write {args.output}: it is inside the data folder {home}; "
                                "export to a file outside it.")
    try:
        args.output.write_bytes(data)
    except OSError as error:
        raise RecurrentGPTError(f"Cannot write {args.output}: {error.strerror}.") from None
    print(f"Wrote {args.output}.", file=sys.stderr)
    return 0


def cmd_bible(args) -> int:
    from memory.errors import MemoryFileError
    from recurrentgpt.world_info import export_file, import_file

    novel = _library().open(args.story)
    bible = novel.bible.files
    if args.import_file:
        entries, replaced, skipped = import_file(bible, args.import_file)
        print(f"Imported {len(entries)} entries into {novel.id}'s bible ({replaced} replaced"
              + (f", {skipped} disabled or empty skipped" if skipped else "") + f"): {bible.folder.path('memory/bible')}")
        return 0
    if args.export:
        count = export_file(bible, args.export, world_info=args.world_info)
        print(f"Wrote {count} entries to {args.export}.", file=sys.stderr)
        return 0
    if args.next:
        instruction, _ = novel.plan_text(args.next)
        context = novel.context(instruction)
        for used in context.bible:
            print(f"{used['name']}\t{used['reason']}\t{used['key'] or used['score']}\t{used['tokens']} tokens")
        if not context.bible:
            print("No bible entry matches the next step.", file=sys.stderr)
        return 0
    try:
        if args.accept:
            entry = bible.accept(args.accept)
            print(f"Accepted: {bible.folder.path('memory/bible')}/{entry.name}.md")
            return 0
        if args.reject:
            bible.reject(args.reject)
            print(f"Rejected the suggestion {args.reject}.", file=sys.stderr)
            return 0
    except (ValueError, MemoryFileError) as error:
        raise RecurrentGPTError(f"{error}; `recurrentgpt bible {novel.id} --suggestions` lists them.") from None
    entries = bible.suggestions() if args.suggestions else bible.entries()
    if not entries:
        print("No suggestions." if args.suggestions else
              f"The bible is empty: add files to {bible.folder.path('memory/bible')} or use --import.", file=sys.stderr)
    for entry in entries:
        flag = "always" if entry.always else ""
        print(f"{entry.name}\t{', '.join(entry.keys)}\t{flag}\t{' '.join(entry.text.split())[:80]}")
    return 0


def cmd_list(args) -> int:
    stories = _library().stories()
    if not stories:
        print("No stories yet: `recurrentgpt new --premise \"...\"` starts one.", file=sys.stderr)
    for info in stories:
        print(f"{info.id}\t{info.mode}\t{info.updated_at:%Y-%m-%d %H:%M}\t{info.title}")
    return 0


def cmd_play(args) -> int:
    from app.terminal_play import play

    return play(_library(), args.story, sys.stdin, sys.stdout, sys.stderr)


def cmd_import(args) -> int:
    from recurrentgpt.importer import import_folder

    library = _library()
    novel = import_folder(library, args.folder)
    head = novel.head
    print(f"Imported {head.title!r}: {head.paragraph_count} paragraphs from {args.folder}.", file=sys.stderr)
    print(novel.id)
    return 0


def cmd_ui(args) -> int:
    from app.studio.server import check_exposure

    # Refuse an exposed host before loading anything heavy.
    check_exposure(args.host, args.auth)
    from app.studio import launch

    print(f"The studio is at http://{args.host}:{args.port} (Ctrl+C stops it).", file=sys.stderr)
    launch(args.host, args.port, args.auth)
    return 0

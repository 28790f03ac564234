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
    try:
        args.output.write_bytes(data)
    except OSError as error:
        raise RecurrentGPTError(f"Cannot write {args.output}: {error.strerror}.") from None
    print(f"Wrote {args.output}.", file=sys.stderr)
    return 0


def cmd_list(args) -> int:
    stories = _library().stories()
    if not stories:
        print("No stories yet: `recurrentgpt new --premise \"...\"` starts one.", file=sys.stderr)
    for info in stories:
        print(f"{info.id}\t{info.mode}\t{info.updated_at:%Y-%m-%d %H:%M}\t{info.title}")
    return 0


def cmd_play(args) -> int:
    raise RecurrentGPTError("Interactive fiction in the terminal is not available in this version yet.")


def cmd_import(args) -> int:
    from recurrentgpt.importer import import_folder

    library = _library()
    novel = import_folder(library, args.folder)
    head = novel.head
    print(f"Imported {head.title!r}: {head.paragraph_count} paragraphs from {args.folder}.", file=sys.stderr)
    print(novel.id)
    return 0


def cmd_ui(args) -> int:
    raise RecurrentGPTError("The studio is not available in this version yet; use the other commands.")

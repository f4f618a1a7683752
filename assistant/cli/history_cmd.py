"""`assistant history list | search | show | export | rename | rm | export-all | import | check`.

Conversation ids may be given as any unique prefix (the first 8 characters shown by
``list`` are usually enough).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.cli.common import print_json, settings_from

if TYPE_CHECKING:
    from assistant.memory.store import Store

SHORT_ID = 8


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("history", help="list, search, export and manage stored conversations")
    hs = p.add_subparsers(dest="history_command", metavar="ACTION", required=True)
    ls = hs.add_parser("list", help="conversations, most recent first")
    ls.add_argument("--limit", type=int, default=30, metavar="N")
    ls.add_argument("--all", action="store_true", help="include archived conversations")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)
    se = hs.add_parser("search", help="full-text search over every message")
    se.add_argument("query", nargs="+")
    se.add_argument("--limit", type=int, default=20, metavar="N")
    se.add_argument("--json", action="store_true")
    se.set_defaults(func=cmd_search)
    sh = hs.add_parser("show", help="print a conversation")
    sh.add_argument("id", metavar="ID")
    sh.set_defaults(func=cmd_show)
    ex = hs.add_parser("export", help="print a conversation as Markdown or JSON")
    ex.add_argument("id", metavar="ID")
    ex.add_argument("--format", choices=("md", "json"), default="md")
    ex.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    ex.set_defaults(func=cmd_export)
    rn = hs.add_parser("rename", help="give a conversation a new title")
    rn.add_argument("id", metavar="ID")
    rn.add_argument("title", nargs="+")
    rn.set_defaults(func=cmd_rename)
    rm = hs.add_parser("rm", help="delete a conversation (asks first unless --yes)")
    rm.add_argument("id", metavar="ID")
    rm.add_argument("--yes", action="store_true", help="delete without asking")
    rm.set_defaults(func=cmd_rm)
    ea = hs.add_parser("export-all", help="back up every conversation as JSON Lines")
    ea.add_argument("file", metavar="FILE", help="where to write ('-' for standard output)")
    ea.add_argument("--force", action="store_true", help="replace FILE if it exists")
    ea.set_defaults(func=cmd_export_all)
    im = hs.add_parser("import", help="import a JSON Lines backup (safe to repeat)")
    im.add_argument("file", metavar="FILE", help="a file from export-all ('-' for standard input)")
    im.set_defaults(func=cmd_import)
    ck = hs.add_parser("check", help="run SQLite's integrity check on the database")
    ck.set_defaults(func=cmd_check)


def _open(args: argparse.Namespace) -> "Store":
    from assistant.memory.store import Store

    store = Store.open(settings_from(args).db_path)
    if store.notice:
        print(f"notice: {store.notice}", file=sys.stderr)
    return store


def cmd_list(args: argparse.Namespace) -> int:
    with _open(args) as store:
        convs = store.list_conversations(limit=args.limit, include_archived=args.all)
    if args.json:
        print_json([c.as_dict() for c in convs])
        return 0
    if not convs:
        print("no conversations yet", file=sys.stderr)
    for c in convs:
        flags = ("*" if c.pinned else " ") + ("a" if c.archived else " ")
        print(f"{c.id[:SHORT_ID]}  {c.updated_at[:16].replace('T', ' ')}  {c.message_count:>4}  {flags} "
              f"{c.title or '(untitled)'}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    query = " ".join(args.query)
    with _open(args) as store:
        hits = store.search(query, limit=args.limit)
    if args.json:
        print_json([h.__dict__ for h in hits])
        return 0
    if not hits:
        print(f"no messages match '{query}'", file=sys.stderr)
        return 1
    for h in hits:
        snippet = " ".join(h.snippet.split())
        print(f"{h.conversation_id[:SHORT_ID]}  {h.title or '(untitled)'}  [{h.role}]\n    {snippet}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    with _open(args) as store:
        text = store.export_conversation(store.resolve(args.id), "md")
    sys.stdout.write(text)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    with _open(args) as store:
        text = store.export_conversation(store.resolve(args.id), args.format)
    if args.output:
        _write_file(Path(args.output), text, force=True)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0


def cmd_rename(args: argparse.Namespace) -> int:
    with _open(args) as store:
        cid = store.resolve(args.id)
        store.rename(cid, " ".join(args.title))
    print(f"renamed {cid[:SHORT_ID]}", file=sys.stderr)
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    from assistant.errors import AssistantError

    with _open(args) as store:
        cid = store.resolve(args.id)
        conv = store.get_conversation(cid)
        if not args.yes:
            if not sys.stdin.isatty():
                raise AssistantError("not deleting without confirmation",
                                     f"run `assistant history rm {args.id} --yes` to delete it")
            answer = input(f"Delete '{conv.title or '(untitled)'}' ({conv.message_count} messages)? [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("kept", file=sys.stderr)
                return 1
        store.delete(cid)
    print(f"deleted {cid[:SHORT_ID]}", file=sys.stderr)
    return 0


def cmd_export_all(args: argparse.Namespace) -> int:
    import io

    with _open(args) as store:
        buf = io.StringIO()
        n = store.export_all(buf)
    if args.file == "-":
        sys.stdout.write(buf.getvalue())
    else:
        _write_file(Path(args.file), buf.getvalue(), force=args.force)
        print(f"exported {n} conversations to {args.file}", file=sys.stderr)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from assistant.errors import AssistantError

    if args.file == "-":
        fp = sys.stdin
    else:
        try:
            fp = open(args.file, encoding="utf-8")
        except OSError as exc:
            raise AssistantError(f"cannot read {args.file}: {exc.strerror}", "check the path") from None
    try:
        with fp, _open(args) as store:
            convs, msgs = store.import_all(fp)
    except UnicodeDecodeError:
        raise AssistantError(f"{args.file} is not UTF-8 text", "use a file written by `assistant history export-all`") from None
    print(f"imported {convs} conversations, {msgs} messages", file=sys.stderr)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    with _open(args) as store:
        result = store.integrity_check()
        print(json.dumps({"path": str(store.path), "integrity": result}))
    return 0 if result == "ok" else 1


def _write_file(path: Path, text: str, force: bool) -> None:
    """Write through a temporary file and rename, so a backup is never half-written."""
    from assistant.errors import AssistantError

    if path.exists() and not force:
        raise AssistantError(f"{path} already exists", "choose another name, or pass --force to replace it")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as fp:
            fp.write(text)
            fp.flush()
            os.fsync(fp.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise AssistantError(f"cannot write {path}: {exc.strerror}", "check the folder and the free disk space") from None

"""`assistant docs add | list | rm | reindex | search`: your own documents, indexed locally.

Only the folders added are read (symbolic links out of them are not followed); the index
lives in the conversation database; embeddings use the router's embedding model.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

from assistant.cli.common import print_json, settings_from

if TYPE_CHECKING:
    from assistant.docs.index import DocsIndex, ScanReport
    from assistant.memory.store import Store

SHOW_SKIPPED = 20


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("docs", help="add folders of your documents, index and search them")
    ds = p.add_subparsers(dest="docs_command", metavar="ACTION", required=True)
    add = ds.add_parser("add", help="add a folder as a collection and index it")
    add.add_argument("path", metavar="PATH")
    add.add_argument("--name", metavar="N", help="collection name (default: the folder's name)")
    add.add_argument("--glob", action="append", default=[], metavar="GLOB",
                     help="only files matching GLOB (repeatable), e.g. '*.pdf' or 'notes/**/*.md'")
    add.add_argument("--max-mb", type=float, metavar="MB", help="skip files larger than this (default 25)")
    add.add_argument("--no-embed", action="store_true", help="index keywords now; embed later (reindex)")
    add.add_argument("--json", action="store_true")
    add.set_defaults(func=cmd_add)
    ls = ds.add_parser("list", help="collections, their state and counts")
    ls.add_argument("name", nargs="?", help="also list this collection's skipped files and why")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)
    rm = ds.add_parser("rm", help="remove a collection from the index (your files are not touched)")
    rm.add_argument("name")
    rm.add_argument("--yes", action="store_true", help="remove without asking")
    rm.set_defaults(func=cmd_rm)
    ri = ds.add_parser("reindex", help="pick up changed, new and deleted files")
    ri.add_argument("name", nargs="?", help="one collection (default: all)")
    ri.add_argument("--full", action="store_true", help="re-read every file (hashes still decide what changed)")
    ri.add_argument("--no-embed", action="store_true")
    ri.add_argument("--json", action="store_true")
    ri.set_defaults(func=cmd_reindex)
    se = ds.add_parser("search", help="the best passages for a query, with their sources")
    se.add_argument("query", nargs="+")
    se.add_argument("--collection", "-c", action="append", metavar="N", help="search only N (repeatable)")
    se.add_argument("--limit", type=int, default=5, metavar="K")
    se.add_argument("--mode", choices=("hybrid", "fts", "vector"), default="hybrid")
    se.add_argument("--json", action="store_true")
    se.set_defaults(func=cmd_search)


def _open(args: argparse.Namespace) -> "Store":
    from assistant.memory.store import Store

    store = Store.open(settings_from(args).db_path)
    if store.notice:
        print(f"notice: {store.notice}", file=sys.stderr)
    return store


def _embedder(args: argparse.Namespace) -> Any:
    from assistant.router.embedders import make_embedder

    print("loading the embedding model...", file=sys.stderr)
    return make_embedder(settings_from(args))


class _Bars:
    """One tqdm bar per stage on stderr (reading files, embedding passages)."""

    def __init__(self, quiet: bool = False) -> None:
        self.bar: Any = None
        self.stage = ""
        self.quiet = quiet or not sys.stderr.isatty()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        if stage != self.stage:
            self.close()
            self.stage = stage
            unit = "file" if stage == "reading" else "passage"
            self.bar = tqdm(total=total, desc=stage, unit=unit, file=sys.stderr, mininterval=0.3, leave=False)
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _index(index: "DocsIndex", name: str, args: argparse.Namespace, embedder: Any) -> tuple["ScanReport", int]:
    bars = _Bars(getattr(args, "json", False))
    try:
        report = index.scan(name, full=getattr(args, "full", False), progress=bars)
        coll = index.get(name)
        embedded = index.embed_pending(embedder, [coll.id], progress=bars) if embedder is not None else 0
    finally:
        bars.close()
    return report, embedded


def _print_report(report: "ScanReport", embedded: int) -> None:
    print(f"{report.collection}: {report.added} added, {report.changed} changed, {report.unchanged} unchanged, "
          f"{report.removed} removed, {len(report.skipped)} skipped; {report.chunks} new passages, "
          f"{embedded} embedded ({report.seconds:.1f} s to read)")
    for path, reason in report.skipped[:SHOW_SKIPPED]:
        print(f"  skipped {path}: {reason}")
    if len(report.skipped) > SHOW_SKIPPED:
        print(f"  ... and {len(report.skipped) - SHOW_SKIPPED} more (`assistant docs list {report.collection}`)")


def cmd_add(args: argparse.Namespace) -> int:
    from assistant.docs.index import DocsIndex

    max_bytes = int(args.max_mb * 1_000_000) if args.max_mb else None
    with _open(args) as store:
        index = DocsIndex(store)
        coll = index.add(args.path, args.name, args.glob, max_bytes)
        print(f"added '{coll.name}' ({coll.root})", file=sys.stderr)
        embedder = None if args.no_embed else _embedder(args)
        report, embedded = _index(index, coll.name, args, embedder)
    if args.json:
        print_json({**report.as_dict(), "embedded": embedded})
    else:
        _print_report(report, embedded)
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    from assistant.docs.index import DocsIndex

    with _open(args) as store:
        index = DocsIndex(store)
        names = [index.get(args.name).name] if args.name else [c.name for c in index.collections()]
        if not names:
            print("no collections yet; add one with `assistant docs add PATH`", file=sys.stderr)
            return 1
        embedder = None if args.no_embed else _embedder(args)
        results = [_index(index, name, args, embedder) for name in names]
    if args.json:
        print_json([{**r.as_dict(), "embedded": e} for r, e in results])
    else:
        for report, embedded in results:
            _print_report(report, embedded)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from assistant.docs.index import DocsIndex
    from assistant.router.embedders import embedder_name

    model = embedder_name(settings_from(args))  # "embedded" counts this embedder's vectors
    with _open(args) as store:
        index = DocsIndex(store)
        colls = [index.get(args.name, model)] if args.name else index.collections(model)
        skipped = index.skipped(args.name) if args.name else []
    if args.json:
        out: Any = [c.as_dict() for c in colls]
        if args.name:
            out = {**out[0], "skipped_files": [{"path": p, "reason": r} for p, r in skipped]}
        print_json(out)
        return 0
    if not colls:
        print("no collections yet; add one with `assistant docs add PATH`", file=sys.stderr)
    for c in colls:
        when = (c.indexed_at or "never")[:16].replace("T", " ")
        print(f"{c.name:<20} {c.state:<11} {c.files:>6} files {c.skipped:>5} skipped {c.chunks:>7} passages "
              f"{c.embedded:>7} embedded  indexed {when}  {c.root}")
    for path, reason in skipped:
        print(f"  skipped {path}: {reason}")
    return 0


def cmd_rm(args: argparse.Namespace) -> int:
    from assistant.docs.index import DocsIndex

    with _open(args) as store:
        index = DocsIndex(store)
        coll = index.get(args.name)
        if not args.yes:
            if not sys.stdin.isatty():
                print(f"refusing to remove '{coll.name}' without --yes (no terminal to ask)", file=sys.stderr)
                return 1
            answer = input(f"Remove '{coll.name}' ({coll.chunks} passages) from the index? Your files stay. [y/N] ")
            if answer.strip().lower() not in ("y", "yes"):
                print("kept", file=sys.stderr)
                return 1
        index.remove(coll.name)
    print(f"removed '{coll.name}': its passages and vectors are deleted; {coll.root} is untouched")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from assistant.docs.search import DocsSearch

    query = " ".join(args.query)
    embedder = _embedder(args) if args.mode != "fts" else None
    with _open(args) as store:
        started = time.perf_counter()
        hits = DocsSearch(store, lambda: embedder).search(query, collections=args.collection, limit=args.limit,
                                                          mode=args.mode)
        elapsed = (time.perf_counter() - started) * 1000
    if args.json:
        print_json([h.as_dict() for h in hits])
        return 0
    if not hits:
        print(f"nothing in your documents matches '{query}'", file=sys.stderr)
        return 1
    for i, h in enumerate(hits, 1):
        sim = f" cos {h.similarity:.2f}" if h.similarity is not None else ""
        text = " ".join(h.text.split())
        print(f"[{i}] {h.citation()} ({h.collection}){sim}\n    {text[:300]}{'…' if len(text) > 300 else ''}")
    print(f"({elapsed:.0f} ms)", file=sys.stderr)
    return 0

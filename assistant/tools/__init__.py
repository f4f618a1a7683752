"""Tool calling by small models, shared by every skill that lets a model call tools.

:mod:`assistant.tools.engine` narrows a request to a few tools, has the model choose one under a
grammar of their names and fill its arguments under a grammar made from its JSON schema;
:class:`assistant.tools.spec.ToolSpec` is a tool as the engine sees it. MCP servers' tools
(:mod:`assistant.mcp`) and the built-in tools a skill declares (``run_tool_loop`` in
:mod:`assistant.skills.tools`) both go through it: there is one tool-calling path.
"""

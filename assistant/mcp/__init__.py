"""Tools from MCP servers, called by small local models through routing and grammars.

Each configured server (``[mcp.servers.NAME]``) becomes a skill: its tools' names and
descriptions are the skill's routing examples; inside the skill the request is narrowed to a
few candidate tools, the model picks one under a grammar that allows only their names, and
fills its arguments under a grammar made from the tool's ``inputSchema``. Arguments are
validated before the call; side-effecting tools ask first.
"""

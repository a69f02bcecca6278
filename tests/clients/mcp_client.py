"""Drives an MCP server with the Python MCP SDK's own client, for tests/it/mcp.rs.

    mcp_client.py stdio COMMAND [ARG...]      starts COMMAND and speaks MCP over its stdin/stdout
    mcp_client.py http URL [AUTHORIZATION]    speaks Streamable HTTP to URL

The calls to make come as JSON on stdin: [{"tool": NAME, "args": {...}}, ...]. Prints one JSON object: the
server's name, the tools it lists (with whether each has an output schema) and, per call, its structured
result, whether it is a tool error, or the JSON-RPC error it was answered with.
"""

import asyncio
import json
import os
import sys

from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError


async def drive(session, calls):
    init = await session.initialize()
    listed = await session.list_tools()
    out = {
        "server": init.server_info.name,
        "tools": [{"name": t.name, "has_output_schema": t.output_schema is not None} for t in listed.tools],
        "calls": [],
    }
    for call in calls:
        try:
            result = await session.call_tool(call["tool"], call.get("args", {}))
            text = " ".join(c.text for c in result.content if getattr(c, "text", None))
            out["calls"].append(
                {"tool": call["tool"], "structured": result.structured_content, "is_error": result.is_error, "text": text}
            )
        except MCPError as e:
            error = {"code": e.error.code, "message": e.error.message, "data": e.error.data}
            out["calls"].append({"tool": call["tool"], "error": error})
    return out


async def main():
    mode, rest = sys.argv[1], sys.argv[2:]
    calls = json.load(sys.stdin)
    if mode == "stdio":
        params = StdioServerParameters(command=rest[0], args=rest[1:], env=dict(os.environ))
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            out = await drive(session, calls)
    else:
        headers = {"Authorization": rest[1]} if len(rest) > 1 else {}
        async with create_mcp_http_client(headers=headers) as http:
            async with streamable_http_client(rest[0], http_client=http) as (read, write):
                async with ClientSession(read, write) as session:
                    out = await drive(session, calls)
    print(json.dumps(out))


asyncio.run(main())

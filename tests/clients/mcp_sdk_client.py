"""The official MCP Python SDK as a client of the data bridge (run from its own venv, .venv-clients:
the SDK needs anyio>=4.9, GenroPy's watchgod pins anyio<4).

    .venv-clients/bin/python tests/clients/mcp_sdk_client.py URL AUTHORIZATION TABLE HIDDEN_TABLE

Prints one JSON object: the negotiated protocol version, the tool names, the rows a query
returned, and whether a query of HIDDEN_TABLE came back as a tool error.
"""

import asyncio
import json
import sys

import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client


async def main(url: str, authorization: str, table: str, hidden: str) -> dict:
    async with httpx2.AsyncClient(headers={"Authorization": authorization}, timeout=30) as http:
        async with streamable_http_client(url, http_client=http, terminate_on_close=False) as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                tools = await session.list_tools()
                found = await session.call_tool("query_table", {"table": table, "limit": 3})
                refused = await session.call_tool("query_table", {"table": hidden})
                return {
                    "protocol": str(init.protocol_version if hasattr(init, "protocol_version")
                                    else init.protocolVersion),
                    "tools": sorted(tool.name for tool in tools.tools),
                    "rows": len((found.structured_content if hasattr(found, "structured_content")
                                 else found.structuredContent)["rows"]),
                    "found_is_error": bool(getattr(found, "is_error", getattr(found, "isError", None))),
                    "hidden_is_error": bool(getattr(refused, "is_error", getattr(refused, "isError", None))),
                }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(*sys.argv[1:5]))))

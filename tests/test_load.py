"""The load benchmark, short: many connections at once through `wsinspect record` lose nothing.

bench/load.py is the full run (500 connections for 60 s); this is the same code for a few seconds.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "load.py"


async def test_many_connections_through_record_lose_and_alter_nothing():
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(BENCH),
        "--connections",
        "100",
        "--duration",
        "4",
        "--direct",
        "1",
        "--rate",
        "4",
        "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    result = json.loads(out)
    assert result["sent"] > 1000
    assert result["lost"] == 0 and result["altered"] == 0
    assert result["failed_connections"] == 0 and result["proxy_errors"] == 0
    assert result["recorded_handshakes"] == 100
    assert result["recorded_client_messages"] == result["sent"]
    assert result["record_exit"] == 0

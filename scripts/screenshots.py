"""Render the README's screenshots of `wsinspect demo`, headless, into screenshots/.

Run: python scripts/screenshots.py   (needs only the installed package)
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from wsinspect.capture.proxy import ProxyConfig
from wsinspect.tui.app import LiveOptions, WsinspectApp
from wsinspect.tui.widgets.handshake_list import HandshakeList

OUT = Path(__file__).resolve().parent.parent / "screenshots"
SIZE = (150, 42)


async def main() -> int:
    OUT.mkdir(exist_ok=True)
    app = WsinspectApp(live=LiveOptions(proxy=ProxyConfig(port=0), demo=True))
    async with app.run_test(size=SIZE) as pilot:
        for _ in range(200):
            await pilot.pause(0.05)
            if len(app.session) >= 8 and all(h.answered for h in app.session):
                break
        await pilot.pause(2.5)  # a few messages on the open feed
        listing = app.query_one(HandshakeList)

        async def select(path: str, key: str, name: str) -> None:
            row = next(i for i, h in enumerate(listing.listed()) if path in h.url)
            listing.cursor = row
            await pilot.press(key)
            url = listing.listed()[row].url
            for _ in range(200):  # a probe takes a moment
                probing = app.detail.probes.get(url)
                if probing is None or probing.report or probing.error:
                    break
                await pilot.pause(0.05)
            await pilot.pause(0.3)
            app.save_screenshot(str(OUT / name))
            print(f"wrote screenshots/{name}")

        await select("/chat", "1", "origin-refused.svg")
        await select("/graphql", "1", "subprotocol-ignored.svg")
        await select("/feed", "4", "messages.svg")
        await select("/chat", "t", "probe.svg")
        await app.stop_proxy()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))

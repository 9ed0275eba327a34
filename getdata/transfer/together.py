"""Run coroutines together on the event loop, all or nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable
from typing import Any


async def together(coros: Iterable[Awaitable[Any]]) -> list[Any]:
    """Their results, in order. If one fails (or this is cancelled), the others are cancelled
    and waited for before the error goes on: no request is left writing into a file the caller
    is about to remove."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise

"""Coroutines on fsspec's event loop: run together all or nothing, or run one from a thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Coroutine, Iterable
from typing import Any, TypeVar

T = TypeVar("T")


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


def run_on(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on ``loop`` (another thread's) and wait for it. If this thread is
    interrupted (Ctrl-C, SIGTERM) or the coroutine fails, it is cancelled and waited for, so
    nothing is left writing into a file the caller is about to remove."""
    finished = threading.Event()

    async def watched() -> T:
        try:
            return await coro
        finally:
            finished.set()

    future = asyncio.run_coroutine_threadsafe(watched(), loop)
    try:
        return future.result()
    except BaseException:
        future.cancel()
        finished.wait(timeout=10)
        raise

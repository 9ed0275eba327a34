#!/usr/bin/env python
"""A loopback TCP proxy that behaves like a slow network: a bandwidth cap per connection and a
round-trip time, for benchmarks/netbench.py.

    python benchmarks/netproxy.py --upstream 127.0.0.1:8080 --rate-mib 20 --rtt-ms 50

prints the port it listens on (127.0.0.1 only) and forwards every connection to the upstream.
Each direction of each connection is a link of its own: bytes leave at most ``rate`` bytes/s
(a token bucket with 50 ms of burst, so a late wake-up on a busy machine does not lower the
rate; a new connection starts at full rate: no slow start is modelled) and arrive ``rtt / 2``
later.
Opening a connection costs one round trip (the TCP handshake), so a new connection per request
pays what it would on a real network. Reads stop while the link is busy, so the proxy never
buffers more than about ``rate x rtt / 2`` per direction and the sender feels back-pressure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import sys

MiB = 1024 * 1024


class Link:
    """One direction of one connection: a capped, delayed pipe from ``src`` to ``dst``."""

    def __init__(self, rate: float, delay: float) -> None:
        self.rate = rate
        self.delay = delay
        # Small enough that pacing stays smooth (about 4 ms of the link per read), large enough
        # that the proxy's own CPU per byte stays low.
        self.chunk = int(min(512 * 1024, max(16 * 1024, rate * 0.004))) if rate else 1024 * 1024
        # A token bucket, not a metronome: time lost to a late wake-up (a busy machine schedules
        # this process tens of ms late) may be made up later, up to this much of it.
        self.burst = 0.05

    async def run(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        # Bounded: what is in flight on the link (rate x delay) and a few reads more. When the
        # receiver is slow (a busy machine), the reader waits instead of buffering the object.
        depth = int(self.rate * (self.delay + self.burst) / self.chunk) + 8 if self.rate else 16
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(maxsize=depth)
        sender = asyncio.create_task(self._send(queue, dst))
        free_at = loop.time()
        try:
            while True:
                data = await src.read(self.chunk)
                now = loop.time()
                if not data:
                    await queue.put((now + self.delay, b""))
                    break
                if self.rate:
                    start = max(now - self.burst, free_at)
                    free_at = start + len(data) / self.rate
                    await queue.put((free_at + self.delay, data))
                    # Do not read on while the link is still busy with what we have.
                    if free_at - now > 0.001:
                        await asyncio.sleep(free_at - now)
                else:
                    await queue.put((now + self.delay, data))
        except (ConnectionError, OSError):
            sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender

    async def _send(self, queue: asyncio.Queue[tuple[float, bytes]], dst: asyncio.StreamWriter):
        loop = asyncio.get_running_loop()
        try:
            while True:
                due, data = await queue.get()
                wait = due - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    if dst.can_write_eof():
                        dst.write_eof()
                    return
                dst.write(data)
                await dst.drain()
        except (ConnectionError, OSError):
            # The receiver is gone: keep emptying the queue so the reader never blocks on it.
            while (await queue.get())[1]:
                pass


async def handle(
    client_r: asyncio.StreamReader,
    client_w: asyncio.StreamWriter,
    upstream: tuple[str, int],
    rate: float,
    rtt: float,
) -> None:
    try:
        if rtt:
            await asyncio.sleep(rtt)  # the TCP handshake: one round trip
        up_r, up_w = await asyncio.open_connection(*upstream, limit=4 * MiB)
    except OSError:
        client_w.close()
        return
    for w in (client_w, up_w):
        sock = w.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        await asyncio.gather(
            Link(rate, rtt / 2).run(client_r, up_w),
            Link(rate, rtt / 2).run(up_r, client_w),
        )
    finally:
        for w in (client_w, up_w):
            with contextlib.suppress(Exception):
                w.close()


async def serve(upstream: tuple[str, int], rate: float, rtt: float, port: int) -> None:
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, upstream, rate, rtt),
        host="127.0.0.1",
        port=port,
        limit=4 * MiB,
        backlog=1024,
    )
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--upstream", required=True, help="127.0.0.1:PORT to forward to")
    p.add_argument("--rate-mib", type=float, default=0, help="MiB/s per connection (0: no cap)")
    p.add_argument("--rtt-ms", type=float, default=0, help="round-trip time to add, in ms")
    p.add_argument("--port", type=int, default=0, help="port to listen on (0: any free one)")
    args = p.parse_args()
    host, _, port = args.upstream.rpartition(":")
    if host not in ("127.0.0.1", "localhost"):
        sys.exit("netproxy: the upstream must be on 127.0.0.1")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve((host, int(port)), args.rate_mib * MiB, args.rtt_ms / 1000, args.port))


if __name__ == "__main__":
    main()

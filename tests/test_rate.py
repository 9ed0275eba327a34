"""fetch.max_rate (getdata/transfer/rate.py): the setting as a user writes it (checked before any
request), the token bucket's arithmetic on a clock the test moves, and that every place that
reads bytes takes them from the one bucket of the fetch: ranged parts over several connections,
the plain stream, the small objects of a batch, a file-like source, and a whole run through the
pipeline (real servers on 127.0.0.1; the bucket is counted, not timed: the elapsed time of a
limited fetch is measured in benchmarks/rate.py)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from getdata.config import check_config, to_app_config
from getdata.config.checks import bytes_per_second
from getdata.errors import ConfigError
from getdata.pipeline import collect
from getdata.sources import resolve
from getdata.sources.http import HttpSource
from getdata.sources.local import LocalSource
from getdata.sources.s3 import S3Source
from getdata.transfer.batch import fetch_many
from getdata.transfer.fetch import fetch
from getdata.transfer.policy import Limits, Retry
from getdata.transfer.rate import BURST, Rate
from tests.servers import FileServer
from tests.support import compose_cfg, logged, only, run_in_process

MiB = 2**20


# ---------------------------------------------------------------------------------------------
# The setting
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "rate"),
    [
        (None, None),
        ("8M", 8 * MiB),
        ("50M", 50 * MiB),
        ("500K", 500 * 1024),
        ("1.5G", 1.5 * 2**30),
        ("8MiB", 8 * MiB),
        ("8 MB/s", 8 * MiB),
        ("1048576", MiB),
        (1048576, MiB),
        (2e6, 2e6),
    ],
)
def test_a_rate_is_bytes_per_second_or_a_1024_based_size(value: Any, rate: Any) -> None:
    assert bytes_per_second(value) == rate


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("fast", "is not a rate"),
        ("8X", "is not a rate"),
        (True, "is not a rate"),
        ("0", "is out of range"),
        (-5, "is out of range"),
        (100, "is out of range: it must be at least 1024 bytes per second"),
        ("nan", "is not a rate"),
    ],
)
def test_a_bad_rate_is_one_config_error(value: Any, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        bytes_per_second(value)
    assert expected in str(caught.value) and "\n" not in str(caught.value)


def test_the_setting_is_checked_with_the_others() -> None:
    ok = to_app_config(compose_cfg("source=http", "source.url=http://h/x", "fetch.max_rate=8M"))
    check_config(ok)
    bad = to_app_config(compose_cfg("source=http", "source.url=http://h/x", "fetch.max_rate=8X"))
    with pytest.raises(ConfigError, match="fetch.max_rate='8X' is not a rate"):
        check_config(bad)


# ---------------------------------------------------------------------------------------------
# The bucket, on a clock the test moves
# ---------------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bytes_taken_at_once_are_paid_at_the_rate() -> None:
    clock = Clock()
    rate = Rate(8 * MiB, clock)
    waits = [rate.debt(MiB) for _ in range(64)]
    assert waits[0] == pytest.approx(1 / 8)
    assert waits[-1] == pytest.approx(8.0)  # 64 MiB at 8 MiB/s


def test_an_idle_moment_is_not_made_up_by_more_than_the_burst() -> None:
    clock = Clock()
    rate = Rate(1 * MiB, clock)
    assert rate.debt(MiB) == pytest.approx(1.0)
    clock.now += 60  # idle for a minute
    assert rate.debt(MiB) == pytest.approx(1.0 - BURST)
    clock.now += 0.5  # reading on while paying
    assert rate.debt(MiB) == pytest.approx(2.0 - BURST - 0.5)


def test_threads_share_one_bucket() -> None:
    clock = Clock()
    rate = Rate(1 * MiB, clock)
    threads = [
        threading.Thread(target=lambda: [rate.debt(1024) for _ in range(256)]) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert rate.debt(0) == pytest.approx(2.0)  # 8 x 256 KiB taken, at 1 MiB/s


# ---------------------------------------------------------------------------------------------
# Every read site takes from the bucket
# ---------------------------------------------------------------------------------------------


class Counted(Rate):
    """A bucket that counts what it is given (fast enough not to slow the tests)."""

    made: list[Counted] = []

    def __init__(self, bytes_per_second: float = 2**40, *args: Any) -> None:
        super().__init__(bytes_per_second, *args)
        self.taken = 0
        self.sync_taken = 0
        Counted.made.append(self)

    async def take(self, n: int) -> None:
        self.taken += n
        await super().take(n)

    def take_sync(self, n: int) -> None:
        self.sync_taken += n
        super().take_sync(n)


def fetch_one(source: Any, tmp_path: Path, connections: int, rate: Rate) -> int:
    done = fetch(
        source,
        tmp_path / "x.part",
        lambda f: f.path,
        chunk_size=64 * 1024,
        retry=Retry(attempts=2, backoff=0.01),
        progress=False,
        limits=Limits(rate=rate),
        connections=connections,
    )
    return done.size


@pytest.mark.parametrize("connections", [4, 1])
def test_ranged_parts_take_every_byte(
    tmp_path: Path, http_server: FileServer, connections: int
) -> None:
    data = os.urandom(20 * MiB + 123)  # past the first request's 8 MiB: ranged parts
    url = http_server.add("/big.bin", data)
    rate = Counted()
    assert fetch_one(resolve(HttpSource(url=url)), tmp_path, connections, rate) == len(data)
    assert rate.taken == len(data)
    ranged = [r for r in http_server.requests if r.method == "GET" and r.range]
    assert (len(ranged) > 1) == (connections > 1)


def test_the_plain_stream_takes_every_byte(tmp_path: Path, http_server: FileServer) -> None:
    data = os.urandom(3 * MiB)
    url = http_server.add("/plain.bin", data, etag=None)  # no version: one plain stream
    rate = Counted()
    assert fetch_one(resolve(HttpSource(url=url)), tmp_path, 0, rate) == len(data)
    assert rate.taken == len(data)


def test_a_file_like_source_takes_every_byte(tmp_path: Path) -> None:
    path = tmp_path / "local.bin"
    path.write_bytes(os.urandom(2 * MiB + 7))
    rate = Counted()
    assert fetch_one(resolve(LocalSource(path=str(path))), tmp_path, 0, rate) == 2 * MiB + 7
    assert rate.sync_taken == 2 * MiB + 7


def test_the_small_objects_of_a_batch_take_every_byte(tmp_path: Path, s3: Any) -> None:
    sizes = [1000 + 37 * i for i in range(20)]
    for i, size in enumerate(sizes):
        s3.put("bucket", f"p/{i:02d}.bin", os.urandom(size))
    members = resolve(S3Source(url="s3://bucket/p/", endpoint_url=s3.endpoint_url)).members()
    assert members is not None
    rate = Counted()
    got = fetch_many(
        [(m, tmp_path / m.basename) for m in members],
        requests=8,
        retry=Retry(attempts=2, backoff=0.01),
        limits=Limits(rate=rate),
    )
    assert all(g is not None for g in got)
    assert rate.taken == sum(sizes)


def test_a_run_shares_one_bucket_over_every_file_and_connection(
    wb: Path, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = {f"p/s{i}.bin": os.urandom(5000 + i) for i in range(10)}
    large = {"p/large.bin": os.urandom(3 * MiB)}
    for key, data in {**small, **large}.items():
        s3.put("bucket", key, data)
    Counted.made.clear()
    monkeypatch.setattr(collect, "Rate", Counted)
    result = run_in_process(
        wb / "run",
        "source=s3",
        "source.url=s3://bucket/p/",
        f"source.endpoint_url={s3.endpoint_url}",
        "fetch.max_rate=1G",
        "fetch.connections=3",
    )
    assert result.status == "ok"
    bucket = only(Counted.made)
    assert bucket.rate == 2**30
    assert bucket.taken == sum(len(d) for d in {**small, **large}.values())
    _, artifact = only(logged(wb))
    assert len(artifact.entries) == 11


def test_no_limit_no_bucket(
    wb: Path, http_server: FileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = http_server.add("/a.csv", b"a,b\n1,2\n")
    Counted.made.clear()
    monkeypatch.setattr(collect, "Rate", Counted)
    assert run_in_process(wb / "run", "source=http", f"source.url={url}").status == "ok"
    assert Counted.made == []

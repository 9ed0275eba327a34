"""Several URLs, one artifact (getdata/sources/several.py): ``source.url`` as a list (entries
named by each URL's file name) or a mapping entry name -> URL, for http(s), S3 and fsspec URLs.
One folder artifact with one entry per URL, read back from the offline run file; check_only,
skip_unchanged, the refresh and the expected hashes work per entry; bad input is one line
before any request (the servers' request logs say so)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

import getdata
from getdata.cli.report import JobReport, run_job
from tests.servers import FileServer, S3FaultProxy
from tests.support import compose_cfg, leftovers, logged, md5_b64, only, run_cli, wandb_env

TRAIN = b"x,y\n1,2\n3,4\n"
TEST = b"x,y\n5,6\n"
FAST = ["fetch.backoff=0.01", "fetch.backoff_max=0.05", "fetch.attempts=3"]


def job(root: Path, *overrides: str, run: str = "run") -> JobReport:
    return run_job(compose_cfg(*FAST, *overrides), root / run, None)


def served(http_server: FileServer) -> tuple[str, str]:
    return (
        http_server.add("/splits/train.csv", TRAIN),
        http_server.add("/splits/test.csv", TEST),
    )


def gets(server: FileServer) -> list[str]:
    return sorted(r.path for r in server.requests if r.method == "GET")


def test_a_list_of_urls_is_one_artifact_with_an_entry_per_url(
    wb: Path, http_server: FileServer
) -> None:
    train, test = served(http_server)
    report = job(wb, "source=http", f"source.url=['{train}','{test}']")
    assert report.status == "ok", report.error
    _, artifact = only(logged(wb))
    assert artifact.name == "splits"  # the folder the URLs share
    assert {e.path: e.digest for e in artifact.entries} == {
        "train.csv": md5_b64(TRAIN),
        "test.csv": md5_b64(TEST),
    }
    files = {f["path"]: f for f in artifact.metadata["files"]}
    assert files["train.csv"]["sha256"] == hashlib.sha256(TRAIN).hexdigest()
    assert files["train.csv"]["source"]["url"] == train
    assert files["test.csv"]["data"]["rows"] == 1
    assert artifact.metadata["file_count"] == 2
    assert artifact.description.startswith("2 files (train.csv, test.csv) as fetched from [")
    assert gets(http_server) == ["/splits/test.csv", "/splits/train.csv"]
    assert leftovers(wb) == []


def test_a_mapping_names_the_entries(wb: Path, http_server: FileServer) -> None:
    train, test = served(http_server)
    report = job(
        wb,
        "source=http",
        f"source.url={{fit.csv: '{train}', holdout/part-1.csv: '{test}'}}",
        "artifact.name=splits",
    )
    assert report.status == "ok", report.error
    _, artifact = only(logged(wb))
    assert {e.path: e.digest for e in artifact.entries} == {
        "fit.csv": md5_b64(TRAIN),
        "holdout/part-1.csv": md5_b64(TEST),
    }
    assert sorted(Path(p).name for p in report.paths) == ["fit.csv", "part-1.csv"]


@pytest.mark.parametrize("form", ["list", "mapping"])
def test_the_readme_examples_run_as_a_user_runs_them(
    tmp_path: Path, http_server: FileServer, form: str
) -> None:
    a = http_server.add("/a.csv", TRAIN)
    b = http_server.add("/b.csv", TEST)
    value = f"['{a}','{b}']" if form == "list" else f"{{fit.csv: '{a}', holdout.csv: '{b}'}}"
    done = run_cli(
        ["source=http", f"source.url={value}", "artifact.name=splits"],
        wandb_env(tmp_path),
        tmp_path,
    )
    assert done.returncode == 0, done.stderr
    _, artifact = only(logged(tmp_path))
    names = ["a.csv", "b.csv"] if form == "list" else ["fit.csv", "holdout.csv"]
    assert sorted(e.path for e in artifact.entries) == names


def test_the_refresh_check_only_and_skip_unchanged_work_per_entry(
    wb: Path, http_server: FileServer
) -> None:
    train, test = served(http_server)
    url = f"source.url=['{train}','{test}']"
    first = job(wb, "source=http", url, run="r1")
    assert first.status == "ok", first.error
    http_server.clear_requests()
    assert job(wb, "source=http", url, "skip_unchanged=true", run="r2").status == "unchanged"
    assert job(wb, "source=http", url, "check_only=true", run="r3").status == "unchanged"
    assert gets(http_server) == []  # asked (HEAD), nothing fetched
    http_server.add("/splits/test.csv", TEST + b"7,8\n")
    assert job(wb, "source=http", url, "check_only=true", run="r4").status == "changed"
    http_server.clear_requests()
    second = job(wb, "source=http", url, run="r5")
    assert second.status == "ok", second.error
    assert gets(http_server) == ["/splits/test.csv"]
    artifact = only([a for _, a in logged(wb) if "refresh" in a.metadata])
    assert artifact.metadata["refresh"]["reused"] == 1
    assert artifact.metadata["refresh"]["changed"] == 1
    assert {e.path: e.digest for e in artifact.entries} == {
        "train.csv": md5_b64(TRAIN),
        "test.csv": md5_b64(TEST + b"7,8\n"),
    }
    # Drift per entry: the same columns, one more row in test.csv.
    assert artifact.metadata["drift"]["rows"] == {"before": 3, "after": 4, "delta": 1}


def test_expected_hashes_by_entry(wb: Path, http_server: FileServer) -> None:
    train, test = served(http_server)
    url = f"source.url={{train.csv: '{train}', test.csv: '{test}'}}"
    good = hashlib.sha256(TEST).hexdigest()
    ok = job(wb, "source=http", url, f"source.sha256={{test.csv: '{good}'}}", run="r1")
    assert ok.status == "ok", ok.error
    bad = job(wb, "source=http", url, f"source.md5={{train.csv: '{'0' * 32}'}}", run="r2")
    assert bad.status == "failed"
    assert bad.error is not None and "\n" not in bad.error
    assert bad.error.startswith(f"{train}: md5 mismatch: expected {'0' * 32}, got ")
    assert len(logged(wb)) == 1
    assert leftovers(wb) == []


def test_several_s3_keys_are_fetched_with_a_get_each_and_no_listing(wb: Path, s3: Any) -> None:
    s3.put("bucket", "train/data.csv", TRAIN)
    s3.put("bucket", "eval/data.csv", TEST)
    with S3FaultProxy(s3.endpoint_url, 500, "InternalError", times=0) as proxy:
        report = job(
            wb,
            "source=s3",
            "source.url={train.csv: 's3://bucket/train/data.csv', eval.csv: "
            "'s3://bucket/eval/data.csv'}",
            f"source.endpoint_url={proxy.endpoint_url}",
        )
    assert report.status == "ok", report.error
    assert sorted(m for m, _ in proxy.seen) == ["GET", "GET"]
    _, artifact = only(logged(wb))
    assert artifact.name == "bucket"
    assert {e.path: e.digest for e in artifact.entries} == {
        "train.csv": md5_b64(TRAIN),
        "eval.csv": md5_b64(TEST),
    }


def test_any_fsspec_url(wb: Path) -> None:
    import fsspec

    memory = fsspec.filesystem("memory")
    memory.pipe({"/several/a.csv": TRAIN, "/other/b.csv": TEST})
    try:
        report = job(
            wb,
            "source=fsspec",
            "source.url=['memory://several/a.csv','memory://other/b.csv']",
            "artifact.name=mem",
        )
    finally:
        memory.rm(["/several/a.csv", "/other/b.csv"])
    assert report.status == "ok", report.error
    _, artifact = only(logged(wb))
    assert {e.path: e.digest for e in artifact.entries} == {
        "a.csv": md5_b64(TRAIN),
        "b.csv": md5_b64(TEST),
    }


# ---------------------------------------------------------------------------------------------
# Bad input: one line, before any request
# ---------------------------------------------------------------------------------------------


def test_two_urls_with_one_file_name_are_one_line_naming_both(
    tmp_path: Path, http_server: FileServer
) -> None:
    a = http_server.add("/v1/train.csv", TRAIN)
    b = http_server.add("/v2/train.csv", TEST)
    done = run_cli(["source=http", f"source.url=['{a}','{b}']"], wandb_env(tmp_path), tmp_path)
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert a in lines[0] and b in lines[0] and "'train.csv'" in lines[0]
    assert http_server.requests == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ([], "source.url is an empty list"),
        ({}, "source.url is an empty mapping"),
        ({"../x.csv": "URL"}, "'../x.csv' is refused: it has an empty, '.' or '..' path part"),
        ({"/etc/x.csv": "URL"}, "'/etc/x.csv' is refused: it is an absolute path"),
        ({"a\\b.csv": "URL"}, "is refused: it has a backslash"),
        ({"a": "URL", "a/b.csv": "URL"}, "cannot be a file and the folder of 'a/b.csv'"),
        (["URL", 3], "is not a URL"),
    ],
)
def test_bad_url_forms_are_one_config_error_before_any_request(
    wb: Path, http_server: FileServer, url: Any, expected: str
) -> None:
    real = http_server.add("/x.csv", TRAIN)
    value: Any
    if isinstance(url, dict):
        value = {k: real if v == "URL" else v for k, v in url.items()}
    else:
        value = [real if v == "URL" else v for v in url]
    with pytest.raises(getdata.ConfigError) as caught:
        getdata.fetch(source="http", source__url=value, run_dir=str(wb / "run"))
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)
    assert http_server.requests == []
    assert logged(wb) == []


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["source.sha256=" + "0" * 64], "source.sha256: source.url names several files"),
        (["source.sha256={nope.csv: abc}"], "'nope.csv' is no entry of source.url"),
        (["source.md5={a.csv: abc}"], "source.md5.a.csv='abc' is not 32 hex digits"),
        (["source.extract=true"], "source.extract=true takes one archive"),
        (["artifact.mode=reference"], "artifact.mode=reference takes one URL"),
    ],
)
def test_settings_that_do_not_fit_several_urls_are_refused_before_any_request(
    wb: Path, http_server: FileServer, overrides: list[str], expected: str
) -> None:
    a = http_server.add("/a.csv", TRAIN)
    b = http_server.add("/b.csv", TEST)
    report = job(wb, "source=http", f"source.url=['{a}','{b}']", *overrides)
    assert report.status == "failed"
    assert report.error is not None and expected in report.error, report.error
    assert http_server.requests == []


def test_a_mapping_of_hashes_needs_several_urls(wb: Path, http_server: FileServer) -> None:
    a = http_server.add("/a.csv", TRAIN)
    report = job(wb, "source=http", f"source.url={a}", "source.sha256={a.csv: abc}")
    assert report.status == "failed"
    assert report.error is not None and "source.sha256 is a mapping" in report.error
    assert http_server.requests == []

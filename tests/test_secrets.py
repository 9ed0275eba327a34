"""Secrets are masked on structures, never anywhere on disk or screen, and saved configs stay
loadable with every non-secret key (and every ``${oc.env:…}`` reference) intact."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from getdata.redact import MASK, redact, redact_text, redact_url
from tests.support import logged, run_cli, wandb_env
from tests.wandb_file import all_text, run_info

CSV = b"song_id,genre\n1,rock\n2,jazz\n"

# ---------------------------------------------------------------------------------------------
# The rules, one by one
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("simplecache::http://bob:PW1@h/x.csv", "simplecache::http://***@h/x.csv"),
        ("zip://inner.csv::http://alice:PW2@h/b.zip", "zip://inner.csv::http://***@h/b.zip"),
        (
            "zip://a.csv::simplecache::https://h/b.zip?sig=S&sv=2024-01-01&raw=1",
            "zip://a.csv::simplecache::https://h/b.zip?sig=***&sv=2024-01-01&raw=1",
        ),
        ("https://h/cb?code=C0DE&state=s", "https://h/cb?code=***&state=s"),
        ("https://h/x?pass=P&jwt=J&signature=S", "https://h/x?pass=***&jwt=***&signature=***"),
        (
            "https://h/x?X-Amz-Signature=S&X-Amz-Date=D",
            "https://h/x?X-Amz-Signature=***&X-Amz-Date=D",
        ),
        ("https://h/app#access_token=T&type=bearer", "https://h/app#access_token=***&type=bearer"),
        ("https://h/x.csv?raw=true", "https://h/x.csv?raw=true"),
        ("s3://bucket/key.csv", "s3://bucket/key.csv"),
    ],
)
def test_urls_at_every_level_of_a_chain(url: str, masked: str) -> None:
    assert redact_url(url) == masked


def test_credential_shapes_in_free_text() -> None:
    text = (
        "from https://u:pw@h/x, Authorization Bearer abc123def456, "
        "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5a2V5a2V5==;Suffix=x "
        "key AKIAIOSFODNN7EXAMPLE jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl "
        "password=hunter2"
    )
    clean = redact_text(text)
    for secret in ("pw@", "abc123def456", "a2V5a2V5", "AKIAIOSFODNN7", "eyJzdWIi", "hunter2"):
        assert secret not in clean
    assert "AccountName=acct" in clean and redact_text("Basic statistics") == "Basic statistics"


def test_user_metadata_that_is_not_a_credential_is_kept() -> None:
    metadata = {
        "primary_key": "song_id",
        "session": "spring-2024",
        "note": "primary_key=song_id, session=spring-2024",
        "sort_key": "genre",
        "password": "hunter2",
        "nested": {"api_token": "t0k", "count": 3},
    }
    assert redact(metadata) == {
        **metadata,
        "password": MASK,
        "nested": {"api_token": MASK, "count": 3},
    }


def test_references_stay_references() -> None:
    headers = {
        "Authorization": "Bearer ${oc.env:API_TOKEN}",
        "X-Api-Key": "${oc.env:KEY}",
        "Cookie": "${oc.env:COOKIE,fallback-secret}",
    }
    assert redact(headers) == {**headers, "Cookie": MASK}


def test_a_masked_query_does_not_swallow_the_next_lines() -> None:
    text = "source:\n  url: https://h/x?token=T0K\nartifact:\n  name: songs\nwandb:\n  mode: auto\n"
    clean = redact_text(text)
    assert yaml.safe_load(clean) == {
        "source": {"url": "https://h/x?token=***"},
        "artifact": {"name": "songs"},
        "wandb": {"mode": "auto"},
    }


# ---------------------------------------------------------------------------------------------
# Planted secrets, every byte written
# ---------------------------------------------------------------------------------------------

PLANTED = {
    "API_TOKEN": "plantedApiToken111",
    "userinfo": "plantedUserPw222",
    "query": "plantedQueryTok333",
    "xapikey": "plantedXApiKey444",
    "private": "plantedPrivTok555",
    "cookie": "plantedCookie666",
    "chain1": "plantedChainPw777",
    "chain2": "plantedZipPw888",
    "s3secret": "plantedS3Secret999",
    "s3token": "plantedS3Token000",
    "description": "plantedDescPw121",
    "metadata": "plantedMetaPw131",
    "sweep": "plantedSweepPw141",
}


def zipped(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, data)
    return buffer.getvalue()


def test_planted_secrets_appear_nowhere(tmp_path: Path, http_server, s3) -> None:
    p = PLANTED
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    env = {**wandb_env(tmp_path), "TMPDIR": str(tmpdir), "API_TOKEN": p["API_TOKEN"]}
    url = http_server.add("/songs.csv", CSV)
    http_server.add("/songs.zip", zipped("inner.csv", CSV))
    host = url.split("//", 1)[1].split("/", 1)[0]
    s3.put("bucket", "songs.csv", CSV)
    common = ["fetch.attempts=1", "fetch.progress=false"]
    runs = {
        # A sweep over two signed/credentialed URLs (one of them fails), with secret headers, a
        # header from the environment, a credential in the description and in the metadata.
        "sweep": [
            "-m",
            "source=http",
            f"source.url='http://{host}/songs.csv?token={p['query']}&raw=1',"
            f"'http://u:{p['userinfo']}@{host}/missing.csv?sig={p['sweep']}'",
            "+source.headers.Authorization='Bearer ${oc.env:API_TOKEN}'",
            f"+source.headers.X-Api-Key={p['xapikey']}",
            f"+source.headers.PRIVATE-TOKEN={p['private']}",
            f"+source.headers.Cookie='sessionid={p['cookie']}'",
            f"artifact.description='mirror of https://bob:{p['description']}@{host}/songs.csv'",
            "+artifact.metadata.primary_key=song_id",
            "+artifact.metadata.session=spring-2024",
            f"+artifact.metadata.password={p['metadata']}",
            f"hydra.sweep.dir={tmp_path / 'sweep'}",
            "source.timeout=10",
        ],
        # fsspec chains: a sweep over a cached and a zipped URL, each with a password.
        "chains": [
            "-m",
            "source=fsspec",
            f"source.url='simplecache::http://bob:{p['chain1']}@{host}/songs.csv',"
            f"'zip://inner.csv::http://alice:{p['chain2']}@{host}/songs.zip'",
            f"hydra.sweep.dir={tmp_path / 'chains'}",
        ],
        "s3": [
            "source=s3",
            "source.url=s3://bucket/songs.csv",
            f"source.endpoint_url={s3.endpoint_url}",
            f"+source.storage_options.secret={p['s3secret']}",
            f"+source.storage_options.token={p['s3token']}",
            "+source.storage_options.key=testing",
            "source.timeout=10",
            f"hydra.run.dir={tmp_path / 's3'}",
        ],
    }
    places: dict[str, bytes] = {}
    codes = {}
    for name, args in runs.items():
        proc = run_cli([*args, *common], env, cwd=tmp_path)
        codes[name] = proc.returncode
        places[f"{name}: stdout"] = proc.stdout.encode()
        places[f"{name}: stderr"] = proc.stderr.encode()
        places[f"{name}: argv"] = " ".join(args).encode()  # not a place: a check of the check
    assert codes == {"sweep": 1, "chains": 0, "s3": 0}, places
    # Every artifact was logged (4: the sweep's good URL, the two chains and s3).
    artifacts = [artifact for _, artifact in logged(tmp_path)]
    summaries = [json.loads(f.read_text()) for f in tmp_path.rglob("summary.json")]
    assert len(artifacts) == 4, (summaries, [a.name for a in artifacts])
    songs = next(a for a in artifacts if a.metadata.get("primary_key"))
    assert songs.metadata["primary_key"] == "song_id"
    assert songs.metadata["session"] == "spring-2024"
    assert songs.metadata["password"] == MASK

    files = [f for f in tmp_path.rglob("*") if f.is_file() and not f.is_symlink()]
    for path in files:
        places[str(path)] = path.read_bytes()
    assert any(name.endswith(".wandb") for name in places)
    assert any(name.endswith("debug.log") for name in places)
    assert any(name.endswith("summary.json") for name in places)
    assert any(name.endswith("multirun.yaml") for name in places)
    assert any(name.endswith("getdata-report.json") for name in places)
    # TMPDIR (where wandb and fsspec may write) is under tmp_path: its files are in `places`.
    leaks = [
        (secret, where)
        for where, content in places.items()
        if not where.endswith(": argv")
        for secret in PLANTED.values()
        if secret.encode() in content
    ]
    assert leaks == []
    # The check can fail: the planted secrets were really on the command lines.
    assert all(any(s.encode() in c for w, c in places.items() if w.endswith(": argv"))
               for s in PLANTED.values() if s != p["API_TOKEN"])  # fmt: skip

    # Every saved YAML loads back, with every non-secret key and the reference intact.
    saved = [path for path in files if path.suffix == ".yaml"]
    assert len(saved) >= 10
    for path in saved:
        assert yaml.safe_load(path.read_text()) is not None, path
        OmegaConf.load(path)
    loaded = OmegaConf.load(tmp_path / "sweep" / "0" / ".hydra" / "config.yaml")
    config = OmegaConf.to_container(loaded, resolve=False)
    assert isinstance(config, dict)
    assert set(config) >= {"source", "artifact", "wandb", "fetch", "inspect", "extract"}
    assert config["source"]["headers"]["Authorization"] == "Bearer ${oc.env:API_TOKEN}"
    assert config["source"]["headers"]["X-Api-Key"] == MASK
    assert config["artifact"]["metadata"]["primary_key"] == "song_id"
    assert config["artifact"]["metadata"]["session"] == "spring-2024"
    assert config["wandb"]["mode"] == "auto"
    summary = json.loads((tmp_path / "sweep" / "summary.json").read_text())
    assert summary["jobs"] == 2 and summary["failed"] == 1


def test_the_data_description_is_never_masked(wb: Path, tmp_path: Path) -> None:
    """Column values are data, not configuration: a value that looks like a credential reaches
    W&B as it is in the file, while the source URL's credentials are still masked."""
    from getdata.cli.report import run_job
    from tests.support import compose_cfg, logged, only

    values = ["token=abc", "https://u:p@h/x?key=1"]
    (tmp_path / "odd.csv").write_text("id,note\n1,token=abc\n2,https://u:p@h/x?key=1\n")
    report = run_job(
        compose_cfg("source=local", f"source.path={tmp_path / 'odd.csv'}"), wb / "run", None
    )
    assert report.status == "ok", report.error
    _, artifact = only(logged(wb))
    text = json.dumps(artifact.metadata["data"]["column_stats"]["note"])
    for value in values:
        assert value in text, f"{value!r} was altered in the data description: {text}"


def test_header_values_are_secrets_whatever_their_name(tmp_path: Path, http_server) -> None:
    """A header set in a catalog entry from the environment (the issue's X-Upstream-Session)
    and one on the command line, with names that say nothing of secrets: their values are
    nowhere on disk or screen, in a single run and a sweep; a harmless header (Accept) is kept,
    and the saved config keeps the ${oc.env:...} reference so it can be run again."""
    session, trace = "plantedSession717", "plantedTrace727"
    url = http_server.add("/songs.csv", CSV, require_header=("X-Upstream-Session", session))
    root = tmp_path / "cat" / "dataset"
    root.mkdir(parents=True)
    (root / "upstream.yaml").write_text(
        "# @package _global_\ndefaults:\n  - override /source: http\n"
        f"source:\n  url: {url}\n  headers:\n"
        "    X-Upstream-Session: ${oc.env:UPSTREAM_SESSION}\n    Accept: text/csv\n"
    )
    env = {
        **wandb_env(tmp_path),
        "GETDATA_CATALOG": str(tmp_path / "cat"),
        "UPSTREAM_SESSION": session,
        "TMPDIR": str(tmp_path),
    }
    extra = [f"+source.headers.X-Trace-Id={trace}", "fetch.progress=false"]
    single = run_cli(
        ["dataset=upstream", *extra, f"hydra.run.dir={tmp_path / 'run'}"], env, tmp_path
    )
    assert single.returncode == 0, single.stderr
    sweep = run_cli(
        ["-m", "dataset=upstream", *extra, f"hydra.sweep.dir={tmp_path / 'sweep'}"], env, tmp_path
    )
    assert sweep.returncode == 0, sweep.stderr
    assert len(logged(tmp_path)) == 2
    places = {"single: stderr": single.stderr.encode(), "sweep: stderr": sweep.stderr.encode()}
    for path in tmp_path.rglob("*"):
        if path.is_file() and not path.is_symlink():
            places[str(path)] = path.read_bytes()
            if path.suffix == ".wandb":  # a string may be split across the file's blocks
                places[f"{path} (records)"] = all_text(path).encode("latin-1")
    assert any(p.endswith(".wandb") for p in places) and any(
        p.endswith("debug.log") for p in places
    )
    leaks = [(s, p) for p, c in places.items() for s in (session, trace) if s.encode() in c]
    assert leaks == []
    for saved in (
        tmp_path / "run" / ".hydra" / "config.yaml",
        tmp_path / "sweep" / "0" / ".hydra" / "config.yaml",
    ):
        headers = OmegaConf.to_container(OmegaConf.load(saved), resolve=False)["source"]["headers"]
        assert headers == {
            "X-Upstream-Session": "${oc.env:UPSTREAM_SESSION}",
            "Accept": "text/csv",
            "X-Trace-Id": MASK,
        }
    # The W&B run config has the resolved headers, masked but for the harmless one.
    for run_file, _ in logged(tmp_path):
        headers = run_info(run_file)["config"]["source"]["headers"]
        assert headers == {"X-Upstream-Session": MASK, "Accept": "text/csv", "X-Trace-Id": MASK}

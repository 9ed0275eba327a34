"""Guards on every private wandb name getdata uses (getdata/tracking/compat.py): each fails loudly
when wandb changes what getdata relies on. And: nothing getdata does to wandb outlives its own
run, so a user's own wandb runs in the same process behave as without getdata."""

from __future__ import annotations

import base64
import hashlib
import inspect
import sys
from pathlib import Path

import pytest

from getdata.config import WandbConfig, WandbMode
from getdata.tracking import compat
from getdata.tracking.compat import add_file, md5_handover_supported, read_record
from getdata.tracking.run import log_artifact
from getdata.tracking.runfile import local_paths, read_run_file, synced
from tests.support import only
from tests.wandb_file import Record, find_run_files, write_run_file

DATA = b"id,value\n1,a\n2,b\n"


def test_md5_handover_matches_add_file(tmp_path: Path) -> None:
    """getdata hands its streamed MD5 to wandb's private Artifact._add_local_file: the entry
    must be exactly the one add_file() makes, and only for an MD5 artifact."""
    import wandb

    path = tmp_path / "f.bin"
    path.write_bytes(DATA * 100)
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    params = inspect.signature(wandb.Artifact._add_local_file).parameters
    assert {"name", "path", "digest", "policy"} <= set(params)

    handed, computed = (wandb.Artifact("a", type="raw_data", digest_algorithm="MD5") for _ in "ab")
    assert md5_handover_supported(handed)
    add_file(handed, path, "f.bin", md5)
    computed.add_file(str(path), name="f.bin", policy="immutable")
    ours, theirs = handed.manifest.entries["f.bin"], computed.manifest.entries["f.bin"]
    assert ours.digest == theirs.digest == base64.b64encode(bytes.fromhex(md5)).decode()
    assert (ours.size, ours.extra, ours.local_path) == (theirs.size, theirs.extra, str(path))


def test_no_md5_handed_to_an_xxh128_artifact(tmp_path: Path) -> None:
    """Should wandb switch to XXH128, the MD5 must not be labelled XXH128: add_file() is used."""
    import wandb

    path = tmp_path / "f.bin"
    path.write_bytes(DATA)
    md5 = hashlib.md5(DATA).hexdigest()
    artifact = wandb.Artifact("a", type="raw_data", digest_algorithm="XXH128")
    assert not md5_handover_supported(artifact)
    add_file(artifact, path, "f.bin", md5)
    entry = artifact.manifest.entries["f.bin"]
    assert entry.digest != base64.b64encode(bytes.fromhex(md5)).decode()
    reference = wandb.Artifact("b", type="raw_data", digest_algorithm="XXH128")
    reference.add_file(str(path), name="f.bin", policy="immutable")
    assert entry.digest == reference.manifest.entries["f.bin"].digest


def test_the_netrc_reader_getdata_uses_is_there() -> None:
    from wandb.sdk.lib.wbauth.wbnetrc import _get_netrc_file_path, read_netrc_auth

    assert "host" in inspect.signature(read_netrc_auth).parameters
    assert callable(_get_netrc_file_path)


@pytest.mark.parametrize("mode", ["online", "offline"])
def test_the_settings_getdata_gives_every_run_are_wandbs(mode: str) -> None:
    """x_disable_stats and the bounds on online waits are undocumented settings: wandb.Settings
    must still take each, with the value given."""
    import wandb

    settings = compat.run_settings(wandb, 3, mode)
    assert settings.silent is True and settings.console == "off"
    assert settings.x_disable_stats is True
    if mode == "online":
        assert settings.x_graphql_timeout_seconds == 3 and settings.x_graphql_retry_max == 2
        assert settings.x_file_stream_timeout_seconds == 3
        assert settings.x_file_transfer_retry_max == 2


def test_wandb_reads_the_installed_packages_where_getdata_answers_them_during_its_init() -> None:
    """A run reads ``working_set`` from wandb.util when it starts (Run._on_start): getdata's
    answer (read once per process) is there during its own init only, then wandb's own is back."""
    import wandb
    from wandb.sdk.wandb_run import Run

    assert "from wandb.util import working_set" in inspect.getsource(Run._on_start)
    original = wandb.util.working_set
    compat.read_installed_packages(wandb)
    with compat.installed_packages_read_once(wandb):
        cached = wandb.util.working_set
        assert cached is not original and getattr(cached, "_getdata_cached", False)
        # What wandb reads from each (a package installed since the list was read is not in
        # it: it is read once per process).
        listed = {(d.key, d.version) for d in cached()}
        assert ("wandb", wandb.__version__) in listed
        assert type(next(iter(cached()))) is type(next(iter(original())))
    assert wandb.util.working_set is original


def test_the_launch_module_getdata_imports_ahead_is_the_one_init_imports() -> None:
    """wandb.init() applies staged Launch inputs through this module (Run._on_ready calls
    _detect_and_apply_job_inputs); getdata only imports it early, on the service's thread."""
    from wandb.sdk.wandb_run import Run

    source = inspect.getsource(Run._detect_and_apply_job_inputs)
    assert "from wandb.sdk.launch.inputs.internal import StagedLaunchInputs" in source
    assert "self._detect_and_apply_job_inputs()" in inspect.getsource(Run._on_ready)
    compat.preload_launch_inputs()
    assert "wandb.sdk.launch.inputs.internal" in sys.modules


def test_run_file_records_read_as_getdata_reads_them(tmp_path: Path) -> None:
    """The generated protobuf module: the record kinds getdata looks for, the local path of an
    artifact's files and a spilled manifest's file are where getdata reads them."""
    from wandb.proto import wandb_internal_pb2 as pb

    kinds = {f.name for f in pb.Record.DESCRIPTOR.oneofs_by_name["record_type"].fields}
    assert {"run", "artifact", "exit", "environment"} <= kinds
    record = Record()
    entry = record.artifact.manifest.contents.add()
    entry.path, entry.local_path = "d.csv", "/data/v/d.csv"
    view = read_record(record.SerializeToString())
    assert view is not None and (view.kind, view.local_paths) == ("artifact", ("/data/v/d.csv",))
    record.artifact.manifest.manifest_file_path = "/staging/m.jl.gz"
    assert read_record(record.SerializeToString()).manifest_file == "/staging/m.jl.gz"  # type: ignore[union-attr]
    assert read_record(b"\xff\xff\xff") is None


def test_a_spilled_manifest_lists_local_paths_as_getdata_reads_them(tmp_path: Path) -> None:
    """wandb writes a manifest of more than 100,000 entries to a gzipped JSON-lines file, one
    ``entry.to_json()`` per line: each holds the entry's ``local_path``."""
    import gzip
    import json

    import wandb
    from wandb.sdk.interface.interface import InterfaceBase

    source = inspect.getsource(InterfaceBase._write_artifact_manifest_file)
    assert "json.dumps(entry.to_json())" in source
    path = tmp_path / "f.csv"
    path.write_bytes(DATA)
    artifact = wandb.Artifact("a", type="raw_data")
    artifact.add_file(str(path), name="f.csv", policy="immutable")
    line = json.dumps(artifact.manifest.entries["f.csv"].to_json())
    spilled = tmp_path / "m.manifest_contents.jl.gz"
    with gzip.open(spilled, "wt") as out:
        out.write(line + "\n")
    record = Record()
    record.artifact.manifest.manifest_file_path = str(spilled)
    exit_record = Record()
    exit_record.exit.exit_code = 0
    run_file = tmp_path / "run-x.wandb"
    write_run_file(run_file, [record, exit_record])
    assert read_run_file(run_file).finished
    assert local_paths(run_file) == {str(path)}


def test_wandb_sync_marks_a_synced_run_file_as_getdata_reads_it(tmp_path: Path) -> None:
    """`wandb sync` (wandb-core's runsync) leaves ``<run file>.synced``; wandb's own Python CLI
    reads the same marker."""
    import wandb
    from wandb.cli import beta_sync

    assert '.with_suffix(".wandb.synced")' in inspect.getsource(beta_sync._is_synced)
    core = Path(wandb.__file__).parent / "bin" / "wandb-core"
    assert b".synced" in core.read_bytes()
    run_file = tmp_path / "run-abc.wandb"
    run_file.write_bytes(b"")
    assert not synced(run_file) and not beta_sync._is_synced(run_file)
    Path(f"{run_file}{compat.SYNCED_SUFFIX}").touch()
    assert synced(run_file) and beta_sync._is_synced(run_file)


def test_a_users_own_runs_in_the_same_process_are_not_touched(
    wb: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After getdata logged in this process, wandb is as it was: ``working_set`` and
    ``Run._detect_and_apply_job_inputs`` are wandb's own, and a user's own run records a
    package installed after getdata's run (getdata's next run does not: its list is read once
    per process, on purpose)."""
    import wandb
    from wandb.sdk import wandb_run

    original_working_set = wandb.util.working_set
    original_apply = wandb_run.Run.__dict__["_detect_and_apply_job_inputs"]
    data = tmp_path / "data.csv"
    data.write_bytes(DATA)

    def getdata_logs(name: str) -> Path:
        log_artifact(
            WandbConfig(project="getdata-tests", mode=WandbMode.offline),
            run_config={},
            name=name,
            type="raw_data",
            description="d",
            metadata={},
            files=[(data, "data.csv", hashlib.md5(DATA).hexdigest())],
        )
        return only([f for f in find_run_files(wb / "wandb-dir") if f not in seen])

    seen: list[Path] = []
    seen.append(getdata_logs("first"))
    assert wandb.util.working_set is original_working_set
    assert wandb_run.Run.__dict__["_detect_and_apply_job_inputs"] is original_apply

    # A package appears (pip install in a notebook): a dist-info folder on sys.path.
    site = tmp_path / "site"
    dist = site / "getdata_test_newcomer-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: getdata-test-newcomer\nVersion: 1.0\n"
    )
    monkeypatch.syspath_prepend(str(site))
    with wandb.init(project="users-own", mode="offline") as run:
        users_folder = Path(run.settings.files_dir)
    wanted = "getdata-test-newcomer==1.0"
    assert wanted in (users_folder / "requirements.txt").read_text().splitlines()
    seen.append(only([f for f in find_run_files(wb / "wandb-dir") if f not in seen]))

    second = getdata_logs("second")
    requirements = (second.parent / "files" / "requirements.txt").read_text().splitlines()
    assert wanted not in requirements and any(r.startswith("wandb==") for r in requirements)
    assert wandb.util.working_set is original_working_set


def test_wandb_is_imported_without_parsing_its_sources_for_docstrings(tmp_path: Path) -> None:
    """compat.import_wandb switches pydantic's docstring lookup off for wandb's import only:
    the lookup is where getdata replaces it, wandb's settings ask for it (else the switch buys
    nothing), and afterwards a model gets its field docstrings again."""
    import subprocess
    import sys
    import textwrap

    probe = textwrap.dedent(
        """
        import inspect, sys
        from pydantic._internal import _fields
        assert "extract_docstrings_from_cls(" in inspect.getsource(
            _fields._update_fields_from_docstrings)
        from getdata.tracking.compat import import_wandb
        wandb = import_wandb()
        from wandb.sdk.wandb_settings import Settings
        assert Settings.model_config.get("use_attribute_docstrings") is True
        assert all(f.description is None for f in Settings.model_fields.values())
        import pydantic
        class After(pydantic.BaseModel):
            model_config = pydantic.ConfigDict(use_attribute_docstrings=True)
            x: int = 0
            '''the x'''
        assert After.model_fields["x"].description == "the x"
        print("ok")
        """
    )
    script = tmp_path / "probe.py"  # a file: pydantic reads a model's docstrings from its source
    script.write_text(probe)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert done.stdout.strip() == "ok", done.stderr

"""The original ``get_data`` step's interface, for ``mlflow run``: four parameters onto getdata.

    python -m getdata.cli.mlproject --file_url URL --artifact_name NAME \\
        [--artifact_type TYPE] [--artifact_description TEXT] \\
        [--hydra_options "KEY=VALUE ..."] [KEY=VALUE ...]

The kind of source follows from ``--file_url``: http(s):// is ``source=http``, s3:// or s3a:// is
``source=s3``, a path or a file:// URL is ``source=local`` and any other fsspec protocol (gs://,
az://, zip://...::..., simplecache::https://...) is ``source=fsspec``. Every value becomes one
Hydra override, quoted so that it reaches the config exactly as given (`=`, `&`, `#`, `~`,
spaces, quotes, backslashes, ``${``...). Anything after the known options, and the words of
``--hydra_options``, are further Hydra overrides passed on as they are (written in Hydra's own
syntax, e.g. ``wandb.group=nightly``).

The W&B project is ``$WANDB_PROJECT`` as before. For an S3-compatible server set
``AWS_ENDPOINT_URL_S3`` (or ``AWS_ENDPOINT_URL``): botocore, which s3fs uses, reads it when no
endpoint is configured, so no extra parameter is needed.

getdata runs in this same process (the Hydra entry point is called with these overrides as its
command line): one interpreter start, getdata's exit status and error line unchanged.
"""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from collections.abc import Sequence
from typing import Optional
from urllib.parse import urlsplit
from urllib.request import url2pathname

__all__ = ["build_overrides", "hydra_quote", "main", "source_kind", "source_overrides"]

HTTP_SCHEMES = ("http", "https")
S3_SCHEMES = ("s3", "s3a")


def source_kind(file_url: str) -> str:
    """``http``, ``s3``, ``local`` or ``fsspec``: which getdata source reads ``file_url``."""
    # fsspec chains (`simplecache::s3://...`, `zip://a.csv::s3://...`) go to fsspec whole.
    if "::" in file_url:
        return "fsspec"
    scheme = urlsplit(file_url).scheme.lower()
    if scheme in HTTP_SCHEMES:
        return "http"
    if scheme in S3_SCHEMES:
        return "s3"
    # No scheme: a path. One letter: a Windows drive (C:\data\x.csv), also a path.
    if scheme in ("", "file") or len(scheme) == 1:
        return "local"
    return "fsspec"


def local_path(file_url: str) -> str:
    """The path a ``local`` file_url names: itself, or the path of a file:// URL."""
    if urlsplit(file_url).scheme.lower() != "file":
        return file_url
    parts = urlsplit(file_url)
    if parts.netloc not in ("", "localhost"):
        raise ValueError(f"{file_url}: a file:// URL must name a file on this machine")
    return url2pathname(parts.path)


def source_overrides(file_url: str) -> list[str]:
    """Hydra overrides selecting and configuring the source for ``file_url``."""
    kind = source_kind(file_url)
    if kind == "local":
        return ["source=local", f"source.path={hydra_quote(local_path(file_url))}"]
    return [f"source={kind}", f"source.url={hydra_quote(file_url)}"]


_BACKSLASHES_BEFORE_QUOTE = re.compile(r"(\\*)'")
_TRAILING_BACKSLASHES = re.compile(r"(\\+)$")
_BACKSLASHES_BEFORE_INTERPOLATION = re.compile(r"(\\*)\$\{")


def hydra_quote(value: str) -> str:
    """``value`` as a single-quoted Hydra override value that Hydra and OmegaConf read back as is.

    Two layers read it. Hydra's override grammar (hydra/grammar/OverrideLexer.g4, QUOTED_VALUE):
    inside quotes every character is literal except that backslashes escape each other only
    right before a quote, so a run of n backslashes before ``'`` becomes 2n+1 (n kept, one for
    the quote) and a run at the very end becomes 2n (it precedes the closing quote). OmegaConf
    then resolves ``${...}`` in the stored string; backslashes are special there only right
    before ``${``, so n of them there become 2n+1 and the ``${`` stays literal text.
    """
    value = _BACKSLASHES_BEFORE_INTERPOLATION.sub(lambda m: m.group(1) * 2 + "\\${", value)
    value = _BACKSLASHES_BEFORE_QUOTE.sub(lambda m: m.group(1) * 2 + "\\'", value)
    value = _TRAILING_BACKSLASHES.sub(lambda m: m.group(1) * 2, value)
    return f"'{value}'"


def build_overrides(
    file_url: str,
    artifact_name: Optional[str] = None,
    artifact_type: Optional[str] = None,
    artifact_description: Optional[str] = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """The getdata command line (Hydra overrides) for the MLproject parameters.

    An empty or missing name or description keeps getdata's default (the file's name, a sentence
    naming the source); ``extra`` overrides come last, so they can change anything.
    """
    if not file_url:
        raise ValueError("file_url is empty")
    overrides = source_overrides(file_url)
    for key, value in (
        ("artifact.name", artifact_name),
        ("artifact.type", artifact_type),
        ("artifact.description", artifact_description),
    ):
        if value:
            overrides.append(f"{key}={hydra_quote(value)}")
    return [*overrides, *extra]


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m getdata.cli.mlproject",
        description="Download a file and log it as a W&B artifact (the MLflow get_data step).",
    )
    parser.add_argument("--file_url", required=True, help="URL or path of the file to fetch")
    parser.add_argument("--artifact_name", help="name of the W&B artifact")
    parser.add_argument("--artifact_type", default="raw_data", help="type of the W&B artifact")
    parser.add_argument("--artifact_description", help="description of the W&B artifact")
    parser.add_argument(
        "--hydra_options",
        default="",
        help="more Hydra overrides in one string, split like a shell would (MLflow passes one)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the getdata command instead of running it",
    )
    parser.add_argument("overrides", nargs="*", help="more Hydra overrides, e.g. wandb.group=x")
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    args = parse_args(argv)
    try:
        extra = [*shlex.split(args.hydra_options), *args.overrides]
        overrides = build_overrides(
            args.file_url,
            args.artifact_name,
            args.artifact_type,
            args.artifact_description,
            extra,
        )
    except ValueError as exc:
        sys.exit(f"getdata.mlproject: error: {exc}")
    if args.dry_run:
        print(shlex.join([sys.executable, "-m", "getdata", *overrides]))
        return
    # Imported here: --dry-run and --help need no Hydra, W&B or fsspec.
    from getdata.cli.main import main as getdata_main

    # Hydra's entry point reads its command line from sys.argv.
    sys.argv = ["getdata", *overrides]
    getdata_main()


if __name__ == "__main__":
    main()

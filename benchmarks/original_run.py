#!/usr/bin/env python
"""The original `get_data` component, reproduced as the baseline for benchmarks/bench.py.

What the course's download step did before getdata: stream the URL with `requests` in 8 KiB
chunks into a NamedTemporaryFile, start a W&B run (job_type="download_data"), make an artifact,
add the file, log the artifact, finish the run. No hashing of its own, no checks, no retries.

    python benchmarks/original_run.py --file_url URL --artifact_name NAME \
        --artifact_type raw_data --artifact_description "..."

W&B's mode comes from the environment (the benchmark sets WANDB_MODE=offline).
"""

import argparse
import logging
import os
import tempfile

import requests
import wandb

logging.basicConfig(level=logging.INFO, format="%(asctime)-15s %(message)s")
logger = logging.getLogger()


def go(args: argparse.Namespace) -> None:
    basename = os.path.basename(args.file_url.split("?")[0].split("#")[0])
    logger.info("Downloading %s ...", args.file_url)
    with tempfile.NamedTemporaryFile(mode="wb+") as fp:
        logger.info("Creating run")
        with wandb.init(project=args.project, job_type="download_data") as run:
            with requests.get(args.file_url, stream=True) as r:
                r.raise_for_status()
                for chunk in r.iter_content(chunk_size=8192):
                    fp.write(chunk)
            # Make sure the file is on disk before W&B reads it.
            fp.flush()

            logger.info("Creating artifact")
            artifact = wandb.Artifact(
                name=args.artifact_name,
                type=args.artifact_type,
                description=args.artifact_description,
                metadata={"original_url": args.file_url},
            )
            artifact.add_file(fp.name, name=basename)

            logger.info("Logging artifact")
            run.log_artifact(artifact)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Download a file and log it as a W&B artifact")
    parser.add_argument("--file_url", type=str, required=True)
    parser.add_argument("--artifact_name", type=str, required=True)
    parser.add_argument("--artifact_type", type=str, default="raw_data")
    parser.add_argument("--artifact_description", type=str, default="Data as downloaded")
    parser.add_argument("--project", type=str, default="getdata-bench-original")
    go(parser.parse_args())

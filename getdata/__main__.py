"""`python -m getdata …`: the Hydra app (getdata/cli/main.py)."""

from .cli.main import cli

if __name__ == "__main__":
    cli()

#!/usr/bin/env bash
# Set up the virtual environments getdata's tests need, then run the whole test suite.
# Usage: ./scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
pip_install() { "$1/bin/python" -m pip install -q --disable-pip-version-check "${@:2}"; }

# .venv: getdata (editable) with its test tools, at the versions in constraints.txt.
[ -x .venv/bin/python ] || python3 -m venv .venv
pip_install .venv --upgrade pip
pip_install .venv -c constraints.txt -e '.[test]'

# .venv-ray: Hydra's Ray launcher declares cloudpickle<3, which the joblib launcher's joblib does
# not accept, so Ray gets an environment of its own (used by tests/test_launchers.py). The
# launcher is installed without its cloudpickle pin; it runs with cloudpickle 3.
[ -x .venv-ray/bin/python ] || python3 -m venv .venv-ray
pip_install .venv-ray --upgrade pip
pip_install .venv-ray -c constraints.txt -e . 'ray[default]==2.60.0'
pip_install .venv-ray --no-deps 'hydra-ray-launcher==1.2.2'

export GETDATA_RAY_PYTHON="$PWD/.venv-ray/bin/python"
.venv/bin/python -m pytest "$@"

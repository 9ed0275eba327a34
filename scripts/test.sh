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

# .venv-floors: getdata at the LOWEST version of each dependency pyproject.toml declares
# (scripts/lowest_versions.py), so that a floor that does not work fails here. The test tools
# resolve freely. uv resolves this in under a minute where pip backtracked for over ten.
# GETDATA_FLOORS=0 skips it (a quick local run).
floors=${GETDATA_FLOORS:-1}
if [ "$floors" = 1 ]; then
  [ -x .venv-floors/bin/python ] || python3 -m venv .venv-floors
  .venv/bin/python scripts/lowest_versions.py > .venv-floors/floors.txt
  .venv/bin/uv pip install -q --python .venv-floors/bin/python -c .venv-floors/floors.txt -e '.[test]'
fi

# nginx: the real web server of tests/realservers.py (Debian's nginx-light, ~1 MB), installed if
# missing; those tests fail without it. /usr/sbin is not on a normal user's PATH, hence the -x.
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] ||
  { as_root apt-get update -qq && as_root apt-get install -y -qq nginx-light; }

# Both runs always run (a failure in the first does not hide the second); the exit code is
# non-zero when either failed, and the last lines say which.
export GETDATA_RAY_PYTHON="$PWD/.venv-ray/bin/python"
pinned=0
.venv/bin/python -m pytest "$@" || pinned=$?
lowest=0
if [ "$floors" = 1 ]; then
  echo "--- the suite again, at the lowest declared versions ($(tr '\n' ' ' < .venv-floors/floors.txt))"
  .venv-floors/bin/python -m pytest "$@" || lowest=$?
fi
echo "--- at the versions in constraints.txt: $([ $pinned = 0 ] && echo passed || echo "FAILED (exit $pinned)")"
if [ "$floors" = 1 ]; then
  echo "--- at the lowest declared versions: $([ $lowest = 0 ] && echo passed || echo "FAILED (exit $lowest)")"
else
  echo "--- at the lowest declared versions: not run (GETDATA_FLOORS=0)"
fi
[ $pinned = 0 ] && [ $lowest = 0 ]

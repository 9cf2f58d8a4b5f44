#!/usr/bin/env bash
# Tests the Python package as a user gets it: builds the wheel (`pip wheel ./python`,
# which runs `swift build -c release --product StrataC` and bundles the Swift runtime),
# installs it into a fresh venv, and runs python/tests there with a clean environment:
# no LD_LIBRARY_PATH and no Swift toolchain on PATH, so only the bundled libraries can load.
# The tests cross-check against the `strata` CLI: $STRATA_CLI (default .build/debug/strata).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=${STRATA_PY_WORK:-/tmp/strata-python-test}
rm -rf "$work"
mkdir -p "$work"
python3 -m pip wheel ./python -w "$work/wheel" --no-deps -q --disable-pip-version-check
python3 -m venv --system-site-packages "$work/venv"
"$work/venv/bin/pip" install -q --no-deps --disable-pip-version-check "$work"/wheel/strata-*.whl
cli=${STRATA_CLI:-$root/.build/debug/strata}
[ -x "$cli" ] || { echo "test_python.sh: no strata CLI at $cli (run swift build first)"; exit 2; }
cd "$work"
env -i HOME="${HOME:-/root}" PATH="$work/venv/bin:/usr/local/bin:/usr/bin:/bin" LANG=C.UTF-8 ${JAVA_HOME:+JAVA_HOME="$JAVA_HOME"} \
  STRATA_REPO="$root" STRATA_CLI="$cli" HF_DATASETS_CACHE="$work/hf-cache" TMPDIR="$work" \
  "$work/venv/bin/python" -m pytest -q -p no:cacheprovider "$root/python/tests" "$@"

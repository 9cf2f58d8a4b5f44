#!/usr/bin/env bash
# The whole test suite: installs dependencies, builds, runs Swift tests
# (including real-process crash tests and pyarrow/DuckDB readers), the tools'
# own tests, the Python package (tools/test_python.sh: wheel, C ABI, pytest, Spark)
# and a short fuzz run of every decoder.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
swift build --build-tests
# Full log kept in /tmp/strata-swift-test.log; the summary lines and failures are shown.
set +e
swift test --skip-build > /tmp/strata-swift-test.log 2>&1
status=$?
set -e
grep -E "✘|error:|Test run with|Executed .* tests" /tmp/strata-swift-test.log | tail -40
[ $status -eq 0 ] || { echo "swift tests failed (exit $status); full log: /tmp/strata-swift-test.log"; exit $status; }
if [ -f tools/test_tools.py ]; then python3 tools/test_tools.py; fi
# The Python package (python/): wheel built and installed into a fresh venv, tested there
# without the Swift toolchain on the loader's path (tools/test_python.sh).
if [ "${STRATA_SKIP_PYTHON:-0}" != "1" ]; then
  set +e
  STRATA_CLI="$PWD/.build/debug/strata" bash tools/test_python.sh
  pystatus=$?
  set -e
  [ $pystatus -eq 0 ] || { echo "python tests failed (exit $pystatus)"; exit $pystatus; }
fi
if [ -x tools/fuzz.sh ] && [ "${STRATA_SKIP_FUZZ:-0}" != "1" ]; then bash tools/fuzz.sh all 15; fi
echo "all tests passed"

#!/usr/bin/env bash
# Installs what building and testing Strata needs on a fresh Debian machine
# (idempotent: skips what is already there).
set -euo pipefail
need_apt=()
# gcc/binutils: the Python tests compile a C program against the C ABI and read ELF
# headers; openjdk-17-jre-headless: the Spark data source tests (pyspark, local mode).
for pkg in liblz4-dev libzstd-dev libxxhash-dev zlib1g-dev zstd lz4 pkg-config gcc binutils openjdk-17-jre-headless; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if [ "${STRATA_SKIP_PIP:-0}" != "1" ]; then
  python3 -c "import pyarrow, duckdb, polars" 2>/dev/null || python3 -m pip install -q --disable-pip-version-check pyarrow duckdb polars
  # The Python package's tests: pytest, Hugging Face datasets, PySpark ≥ 4.1 (Python data
  # source API with filter push-down). The package itself needs none of them.
  python3 -c "import pytest, datasets, pyspark, sys; sys.exit(tuple(map(int, pyspark.__version__.split('.')[:2])) < (4, 1))" 2>/dev/null \
    || python3 -m pip install -q --disable-pip-version-check pytest datasets "pyspark>=4.1,<5"
fi

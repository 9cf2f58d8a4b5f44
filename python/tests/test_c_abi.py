"""The C ABI tested from C: tests/c/abi_test.c compiled against include/strata.h and the bundled library."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import strata

from conftest import REPO

LIB = Path(strata.__file__).resolve().parent / "_lib"


def test_c_program_exercises_the_abi(tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    exe = tmp_path / "abi_test"
    subprocess.run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-I", str(REPO / "Sources" / "StrataABI" / "include"),
                    str(Path(__file__).parent / "c" / "abi_test.c"), "-L", str(LIB), "-lStrataC", f"-Wl,-rpath,{LIB}",
                    "-o", str(exe)], check=True)
    r = subprocess.run([str(exe), str(tmp_path / "store"), str(tmp_path / "out")], capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"

"""The installed package carries its native library and the Swift runtime: nothing resolves into a Swift toolchain."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import strata

PKG = Path(strata.__file__).resolve().parent
LIB = PKG / "_lib"
SYSTEM = re.compile(r"^(linux-vdso|ld-linux|libc|libm|libdl|libpthread|librt|libutil|libresolv|libgcc_s|libstdc\+\+)[.-]")


def test_package_is_installed_not_imported_from_the_source_tree():
    assert (LIB / "libStrataC.so").exists()
    assert "site-packages" in str(PKG), PKG


def test_ldd_resolves_every_library_inside_the_package_or_the_base_system():
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    out = subprocess.run(["ldd", str(LIB / "libStrataC.so")], capture_output=True, text=True, check=True, env=env).stdout
    assert "not found" not in out, out
    resolved = dict(re.findall(r"^\s*(\S+) => (\S+)", out, re.M))
    assert "libswiftCore.so" in resolved and "libFoundation.so" in resolved
    for name, path in resolved.items():
        if SYSTEM.match(name):
            continue
        assert Path(path).resolve().parent == LIB.resolve(), f"{name} resolves to {path}, outside the package"
    assert "swift" not in "".join(p for n, p in resolved.items() if SYSTEM.match(n))


def test_import_in_a_clean_process_maps_the_swift_runtime_from_the_package_only():
    code = ("import strata, sys; s = strata.Store.open(sys.argv[1]); s.append({'prompt':'p','response':'r','domain':'d',"
            "'timestamp':'2025-01-01T00:00:00Z'}); s.close(); "
            "print('\\n'.join(sorted({l.split()[-1] for l in open('/proc/self/maps') if '.so' in l})))")
    env = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")}  # no toolchain on PATH, no LD_LIBRARY_PATH
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        out = subprocess.run([sys.executable, "-c", code, d + "/s"], capture_output=True, text=True, check=True, env=env).stdout
    libs = out.split()
    swift = [p for p in libs if re.search(r"/lib(swift|Foundation|_Foundation|dispatch|BlocksRuntime)", p)]
    assert any(p.endswith("/libswiftCore.so") for p in swift), libs
    for p in swift:
        assert Path(p).resolve().parent == LIB.resolve(), f"{p} loaded from outside the package"


def test_runpath_is_origin_only():
    out = subprocess.run(["readelf", "-d", str(LIB / "libStrataC.so")], capture_output=True, text=True, check=True).stdout
    runpaths = re.findall(r"R(?:UN)?PATH.*\[(.*)\]", out)
    assert runpaths == ["$ORIGIN"], runpaths


def test_versions():
    assert re.match(r"^\d+\.\d+\.\d+$", strata.__version__)
    assert (PKG / "py.typed").exists()

"""Build hook: compiles the Strata C ABI (libStrataC.so) in release mode and
bundles it, with every shared library it needs that is not part of the base
system (Swift runtime, Foundation, ICU, lz4, zstd, xxhash), into strata/_lib/.
libStrataC.so's RUNPATH is $ORIGIN, so the installed package loads without a
Swift toolchain. The repository root is python/.. (or $STRATA_SOURCE_ROOT).
"""
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

try:
    from wheel.bdist_wheel import bdist_wheel
except ImportError:  # pragma: no cover - wheel is a build requirement
    bdist_wheel = None

HERE = Path(__file__).resolve().parent
# Libraries every Linux with glibc has; everything else is bundled. libstdc++ and
# libgcc_s stay the system's so they cannot clash with another extension's copy.
SYSTEM_LIBS = re.compile(r"^(linux-vdso|ld-linux|libc|libm|libdl|libpthread|librt|libutil|libresolv|libgcc_s|libstdc\+\+)[.-]")


def source_root() -> Path:
    root = Path(os.environ.get("STRATA_SOURCE_ROOT", HERE.parent)).resolve()
    if not (root / "Package.swift").exists():
        raise SystemExit(f"strata: cannot find the Strata sources (Package.swift) at {root}; "
                         "install from a checkout (pip install ./python) or set STRATA_SOURCE_ROOT")
    return root


def toolchain_lib_dirs() -> list:
    """The Swift toolchain's runtime library directories (swift -print-target-info)."""
    try:
        info = json.loads(subprocess.run(["swiftc", "-print-target-info"], check=True, capture_output=True, text=True).stdout)
        return list(info["paths"]["runtimeLibraryPaths"])
    except (OSError, subprocess.CalledProcessError, KeyError, ValueError):
        swift = shutil.which("swift")
        return [str(Path(os.path.realpath(swift)).parent.parent / "lib" / "swift" / "linux")] if swift else []


def build_native(dest: Path) -> None:
    root = source_root()
    prebuilt = os.environ.get("STRATA_PREBUILT_LIB")
    if prebuilt:
        lib = Path(prebuilt)
    else:
        subprocess.check_call(["swift", "build", "-c", "release", "--product", "StrataC"], cwd=root)
        lib = root / ".build" / "release" / "libStrataC.so"
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("*.so*"):
        old.unlink()
    shutil.copy2(lib, dest / "libStrataC.so")
    # Bundle the closure of NEEDED libraries, resolving the Swift runtime in the
    # toolchain (libStrataC.so's own RUNPATH is only $ORIGIN).
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = ":".join(toolchain_lib_dirs() + [env.get("LD_LIBRARY_PATH", "")])
    out = subprocess.run(["ldd", str(lib)], check=True, capture_output=True, text=True, env=env).stdout
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => (\S+)", line)
        if not m:
            continue
        name, path = m.groups()
        if path == "not" or not os.path.exists(path):
            raise SystemExit(f"strata: {lib} needs {name}, which the loader cannot find")
        if SYSTEM_LIBS.match(name):
            continue
        shutil.copy2(os.path.realpath(path), dest / name)
    for so in dest.glob("*.so*"):
        so.chmod(0o755)


class BuildNative(build_py):
    def run(self):
        super().run()
        build_native(Path(self.build_lib) / "strata" / "_lib")


class BinaryDistribution(Distribution):
    def has_ext_modules(self):
        return True


cmdclass = {"build_py": BuildNative}
if bdist_wheel is not None:
    class PlatformWheel(bdist_wheel):
        """ctypes, not a CPython extension: any Python 3 on this platform."""

        def finalize_options(self):
            super().finalize_options()
            self.root_is_pure = False

        def get_tag(self):
            _, _, plat = super().get_tag()
            return "py3", "none", plat

    cmdclass["bdist_wheel"] = PlatformWheel

setup(cmdclass=cmdclass, distclass=BinaryDistribution)

"""ctypes bindings of the Strata C ABI (include/strata.h, docs/C_ABI.md).

The library is loaded from this package's ``_lib`` directory, where the build
bundled it with the Swift runtime it needs; ``$STRATA_LIB`` overrides the path
(for development against a fresh ``swift build``).

ctypes releases the GIL for the duration of every foreign call (``CDLL``, not
``PyDLL``), so parsing, hashing, compression, fsync and scanning in the
library run while other Python threads continue.
"""
from __future__ import annotations

import ctypes
import json
import os
from ctypes import POINTER, c_char_p, c_int32, c_int64, c_size_t, c_uint32, c_void_p
from typing import Any, Optional

from . import errors

ABI_VERSION = 1


class _Error(ctypes.Structure):
    _fields_ = [
        ("code", c_int32),
        ("code_name", c_void_p),
        ("message", c_void_p),
        ("path", c_void_p),
        ("offset", c_int64),
        ("line", c_int64),
        ("field", c_void_p),
    ]


def _library_path() -> str:
    override = os.environ.get("STRATA_LIB")
    if override:
        return override
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "_lib", "libStrataC.so")


def _load() -> ctypes.CDLL:
    path = _library_path()
    if not os.path.exists(path):
        raise ImportError(f"strata: native library missing at {path}; reinstall the package (pip install ./python builds it)")
    lib = ctypes.CDLL(path)
    H = c_void_p  # opaque handles
    E = POINTER(_Error)
    OUT = POINTER(c_void_p)
    LEN = POINTER(c_size_t)
    sigs = {
        "strata_version": (c_char_p, []),
        "strata_abi_version": (c_uint32, []),
        "strata_error_clear": (None, [E]),
        "strata_free": (None, [c_void_p]),
        "strata_store_open": (c_int32, [c_char_p, c_char_p, POINTER(H), E]),
        "strata_store_close": (c_int32, [H, E]),
        "strata_store_append": (c_int32, [H, c_char_p, c_size_t, POINTER(c_int32), c_char_p, E]),
        "strata_store_ingest": (c_int32, [H, c_char_p, c_size_t, c_char_p, c_char_p, OUT, LEN, E]),
        "strata_store_commit": (c_int32, [H, E]),
        "strata_store_get": (c_int32, [H, c_char_p, c_int32, OUT, LEN, E]),
        "strata_store_annotate": (c_int32, [H, c_char_p, c_char_p, E]),
        "strata_store_scan": (c_int32, [H, c_char_p, POINTER(H), E]),
        "strata_reader_open": (c_int32, [c_char_p, POINTER(H), E]),
        "strata_reader_close": (c_int32, [H, E]),
        "strata_reader_get": (c_int32, [H, c_char_p, c_int32, OUT, LEN, E]),
        "strata_reader_lookup": (c_int32, [H, c_char_p, c_char_p, c_int32, OUT, LEN, E]),
        "strata_reader_scan": (c_int32, [H, c_char_p, POINTER(H), E]),
        "strata_reader_partitions": (c_int32, [H, OUT, LEN, E]),
        "strata_cursor_next": (c_int32, [H, OUT, LEN, E]),
        "strata_cursor_close": (None, [H]),
        "strata_export": (c_int32, [c_char_p, c_char_p, c_char_p, OUT, LEN, E]),
        "strata_stats": (c_int32, [c_char_p, OUT, LEN, E]),
        "strata_stats_select": (c_int32, [c_char_p, c_char_p, OUT, LEN, E]),
        "strata_verify": (c_int32, [c_char_p, c_int32, OUT, LEN, E]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype = res
        fn.argtypes = args
    found = lib.strata_abi_version()
    if found != ABI_VERSION:
        raise ImportError(f"strata: {path} has C ABI version {found}, this package needs {ABI_VERSION}")
    return lib


lib = _load()


def _text(p: Optional[int]) -> Optional[str]:
    return ctypes.string_at(p).decode("utf-8", "replace") if p else None


def check(status: int, err: _Error) -> None:
    """Raises the strata.Error subclass for a failed call (and frees err's strings)."""
    if status == 0:
        return
    try:
        num = lambda v: None if v < 0 else int(v)  # noqa: E731
        raise errors.from_native(
            status=status,
            code=_text(err.code_name) or "unknown",
            message=_text(err.message) or "",
            path=_text(err.path),
            offset=num(err.offset),
            line=num(err.line),
            field=_text(err.field),
        )
    finally:
        lib.strata_error_clear(ctypes.byref(err))


def call(fn: Any, *args: Any) -> None:
    """Calls an ABI function whose last parameter is the error struct."""
    err = _Error()
    check(fn(*args, ctypes.byref(err)), err)


def call_buffer(fn: Any, *args: Any) -> Optional[bytes]:
    """Calls an ABI function that returns a library-owned buffer (then freed); None for a NULL buffer."""
    err = _Error()
    out = c_void_p()
    n = c_size_t()
    check(fn(*args, ctypes.byref(out), ctypes.byref(n), ctypes.byref(err)), err)
    if not out.value:
        return None
    try:
        return ctypes.string_at(out.value, n.value)
    finally:
        lib.strata_free(out)


def call_json(fn: Any, *args: Any) -> Any:
    data = call_buffer(fn, *args)
    return None if data is None else json.loads(data)


def encode_options(options: dict) -> bytes:
    return json.dumps({k: v for k, v in options.items() if v is not None}, ensure_ascii=False).encode("utf-8")


def path_arg(p: Any) -> bytes:
    return os.fsencode(os.fspath(p))


def version() -> str:
    return lib.strata_version().decode()

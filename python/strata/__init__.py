"""strata — embedded, append-only store for ML training examples (Python bindings).

A thin, pure-Python layer (ctypes) over Strata's stable C ABI (libStrataC.so,
bundled in this package with the Swift runtime it needs). See README.md's
Python section and docs/C_ABI.md.

    import strata
    with strata.Store.open("./store") as s:
        r = s.append({"prompt": "2+2?", "response": "4", "domain": "math",
                      "timestamp": "2025-03-01T12:00:00Z"})
        s.annotate(r.id, feedback="positive")
        for ex in s.scan(domain="math"):
            print(ex["id"], ex["response"])

Thread-safety: a Store or Reader may be shared by threads (the library
serializes calls on one handle); the GIL is released during every library call.
A scan iterator holds its handle until exhausted or closed (other calls on that
handle raise UsageError meanwhile). Across processes: one Store (writer) per
directory, any number of Readers.
"""
from ._native import version as _version
from .errors import (CorruptionError, Error, InvalidInputError, IOError, LockedError, NotFoundError,
                     PermissionDeniedError, UsageError)
from .interop import StreamingDataset, to_hf_dataset
from .store import AppendResult, ExportSummary, Reader, Reject, Store, Summary, export, stats, verify

__version__ = _version()

__all__ = [
    "Store", "Reader", "AppendResult", "Summary", "Reject", "ExportSummary", "export", "stats", "verify",
    "to_hf_dataset", "StreamingDataset",
    "Error", "CorruptionError", "InvalidInputError", "LockedError", "IOError", "NotFoundError", "UsageError",
    "PermissionDeniedError", "__version__",
]

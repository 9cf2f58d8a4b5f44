"""The exceptions of strata: one base class carrying the library's StrataError fields."""
from __future__ import annotations

from typing import Dict, Optional, Type


class Error(Exception):
    """Any failure reported by Strata.

    Attributes mirror the library's ``StrataError``: ``code`` (e.g.
    ``"invalid-input"``), ``message``, ``path`` and ``offset`` (where damage
    was found on disk), ``line`` and ``field`` (where bad input was found).
    Absent values are ``None``.
    """

    def __init__(self, message: str, *, code: str = "unknown", path: Optional[str] = None, offset: Optional[int] = None,
                 line: Optional[int] = None, field: Optional[str] = None) -> None:
        self.code = code
        self.message = message
        self.path = path
        self.offset = offset
        self.line = line
        self.field = field
        super().__init__(self._describe())

    def _describe(self) -> str:
        parts = []
        if self.path:
            parts.append(f"{self.path} at offset {self.offset}" if self.offset is not None else self.path)
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.field:
            parts.append(f"field '{self.field}'")
        where = ", ".join(parts)
        return f"{where + ': ' if where else ''}{self.message} [{self.code}]"


class CorruptionError(Error):
    """Bytes on disk failed a checksum, bound or invariant check (or come from a newer format version)."""


class InvalidInputError(Error, ValueError):
    """An example or annotation failed validation; ``line`` and ``field`` say where."""


class LockedError(Error):
    """Another writer (in this or another process) holds the store."""


class IOError(Error):  # noqa: A001 - strata.IOError, deliberately named like the builtin it specializes
    """An operating-system I/O call failed, the device is full, or the writer is poisoned by an earlier failure."""


class NotFoundError(Error, LookupError):
    """No such store, example or input file."""


class UsageError(Error, ValueError):
    """The API was used wrongly: a bad option, a closed store, a call during an open scan."""


class PermissionDeniedError(Error):
    """The store directory's permissions or ownership are unsafe."""


_BY_CODE: Dict[str, Type[Error]] = {
    "corruption": CorruptionError,
    "unsupported-version": CorruptionError,
    "io": IOError,
    "no-space": IOError,
    "poisoned": IOError,
    "locked": LockedError,
    "invalid-input": InvalidInputError,
    "not-found": NotFoundError,
    "usage": UsageError,
    "permission": PermissionDeniedError,
}


def from_native(*, status: int, code: str, message: str, path: Optional[str], offset: Optional[int], line: Optional[int],
                field: Optional[str]) -> Error:
    cls = _BY_CODE.get(code, Error)
    return cls(message, code=code, path=path, offset=offset, line=line, field=field)

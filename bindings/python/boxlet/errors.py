"""Exceptions: one class per boxlet error code, each carrying the code, its
stable name (as in the REST error envelope) and the library's message.
Where Python has a built-in exception of the same meaning, the class also
derives from it (NotFound is a LookupError, Timeout a TimeoutError, ...), so
`except TimeoutError` works as a Python user expects."""

from __future__ import annotations

from . import _lib


class BoxletError(Exception):
    """A failed boxlet call: `code` (int, stable), `name` ("not_found"),
    `message` (what failed, on what, why)."""

    code = -1

    def __init__(self, code: int, message: str):
        self.code = code
        self.name = _lib.text(_lib.lib.boxlet_code_name(code))
        self.message = message or _lib.text(_lib.lib.boxlet_strerror(code))
        super().__init__(f"{self.message} [{self.name}]")

    def __str__(self) -> str:
        return f"{self.message} [{self.name}]"

    def __reduce__(self):
        return (error, (self.code, self.message))


class InvalidArgument(BoxletError, ValueError):
    code = 1


class NotFound(BoxletError, LookupError):
    code = 2


class Closed(BoxletError):
    """The execution has finished (or its stdin was closed)."""

    code = 3


class Conflict(BoxletError):
    code = 4


class Timeout(BoxletError, TimeoutError):
    code = 5


class OutOfMemory(BoxletError, MemoryError):
    code = 6


class IOFailure(BoxletError, OSError):
    code = 7


class ProtocolError(BoxletError):
    code = 8


class TooBig(BoxletError, ValueError):
    code = 9


class Unsupported(BoxletError, NotImplementedError):
    code = 10


class Disconnected(BoxletError, ConnectionError):
    code = 11


class InternalError(BoxletError):
    code = 12


class LimitReached(BoxletError):
    code = 13


class PermissionDenied(BoxletError, PermissionError):
    code = 14


class AlreadyExists(BoxletError):
    code = 15


_BY_CODE = {cls.code: cls for cls in BoxletError.__subclasses__()}


def error(code: int, message: str = "") -> BoxletError:
    """The exception for a boxlet code (BoxletError for a code this package
    does not know yet)."""
    return _BY_CODE.get(code, BoxletError)(code, message)

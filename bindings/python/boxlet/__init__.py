"""boxlet for Python: sandboxes (isolated Linux boxes) and the commands
running in them, over libboxlet — embedded (`boxlet.Runtime()`: boxes in
this process's runtime home, no server) or remote
(`boxlet.Runtime.connect(url)`: a `boxlet serve`), with the same API.

    import asyncio, boxlet

    async def main():
        async with boxlet.Runtime() as rt:
            async with await rt.create(image="host", memory_mib=256) as box:
                ex = await box.exec("sh", "-c", "echo hi; echo oops >&2; exit 3")
                async for data in ex.stdout:
                    print(data)
                print((await ex.wait()).exit_code)  # 3

    asyncio.run(main())

boxlet.sync has the same API without async, for scripts and notebooks.
docs/python.md in the boxlet repository describes it all."""

from . import errors
from ._box import Box
from ._exec import Execution, OutputStream, Stdin
from ._lib import lib as _clib
from ._runtime import Runtime
from ._types import (
    BoxInfo,
    BoxOptions,
    Chunk,
    ExecInfo,
    ExecOptions,
    ExitResult,
    ImageInfo,
    PortMapping,
    PullProgress,
    RunResult,
    Stats,
)
from .errors import BoxletError

TAIL = (1 << 64) - 1
"""An attach offset: only output that arrives from now on."""


def library_version() -> str:
    """The version of the libboxlet this package loaded."""
    return _clib.boxlet_version().decode()


__version__ = "0.1.0"
__all__ = [
    "Runtime",
    "Box",
    "Execution",
    "OutputStream",
    "Stdin",
    "BoxOptions",
    "ExecOptions",
    "ExitResult",
    "RunResult",
    "Chunk",
    "ExecInfo",
    "BoxInfo",
    "ImageInfo",
    "PortMapping",
    "PullProgress",
    "Stats",
    "BoxletError",
    "errors",
    "TAIL",
    "library_version",
]

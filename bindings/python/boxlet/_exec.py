"""Execution: a command running (or finished) in a box — its output as
async streams, its stdin, signals, and its exit result.

One pump task per execution moves output from the library into the two
streams: it waits on the event loop for the execution's descriptor (or for
output the library already queued, boxlet_exec_buffered), then drains every
chunk ready on the runtime's thread in one call. Streams hold at most
HIGH_WATER bytes between them; past that the pump stops reading until
readers catch up, so the box's process waits (as with a pipe) and nothing
is dropped. A stream nobody reads is discarded once someone awaits wait()."""

from __future__ import annotations

import asyncio
import ctypes
from collections import deque
from typing import TYPE_CHECKING, AsyncIterator, Optional

from . import _lib
from ._types import Chunk, ExitResult
from .errors import BoxletError, error

if TYPE_CHECKING:
    from ._box import Box

L = _lib.lib
ETIMEOUT = 5
HIGH_WATER = 8 << 20
DRAIN_BUDGET = 4 << 20  # bytes taken in one call on the runtime's thread
STREAMS = {1: "stdout", 2: "stderr"}


class OutputStream:
    """stdout or stderr of an execution: `async for data in stream` yields
    bytes in order; `text()` the same as str through boxlet's streaming
    UTF-8 sanitizer; `read()` everything to the end. Gaps (bytes dropped
    before anyone read them) are skipped here and listed in `gaps`; the
    execution's chunks() shows them in place."""

    def __init__(self, ex: "Execution", name: str):
        self._ex, self.name = ex, name
        self._q: deque[Chunk] = deque()
        self._bytes = 0
        self._ended = False
        self._wake = asyncio.Event()
        self.consumed = False  # someone reads it
        self.discarded = False
        self.gaps: list[tuple[int, int]] = []

    def _put(self, c: Chunk) -> None:
        if self.discarded:
            return
        self._q.append(c)
        self._bytes += len(c.data)
        self._wake.set()

    def _end(self) -> None:
        self._ended = True
        self._wake.set()

    def _discard(self) -> None:
        self.discarded = True
        self._ex._taken(self._bytes)
        self._q.clear()
        self._bytes = 0

    async def _next(self) -> Optional[bytes]:
        self.consumed = True
        while not self._q:
            if self._ended:
                self._ex._raise_pump_error()
                return None
            self._wake.clear()
            await self._wake.wait()
        data = self._q.popleft().data
        self._bytes -= len(data)
        self._ex._taken(len(data))
        return data

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[bytes]:
        while (data := await self._next()) is not None:
            yield data

    async def text(self) -> AsyncIterator[str]:
        """The stream as str, never splitting a character and replacing
        invalid bytes with U+FFFD as `boxlet serve`'s text frames do."""
        st = _lib.Utf8()
        L.boxlet_utf8_init(ctypes.byref(st))
        async for data in self:
            out = ctypes.create_string_buffer(3 * (len(data) + 3))
            n = L.boxlet_utf8_feed(ctypes.byref(st), data, len(data), out)
            if n:
                yield out.raw[:n].decode("utf-8")
        out = ctypes.create_string_buffer(9)
        n = L.boxlet_utf8_flush(ctypes.byref(st), out)
        if n:
            yield out.raw[:n].decode("utf-8")

    async def read(self) -> bytes:
        """Everything to the end of the stream."""
        parts = [d async for d in self]
        return b"".join(parts)


class Stdin:
    """The execution's stdin (stdin owner only)."""

    def __init__(self, ex: "Execution"):
        self._ex = ex

    async def write(self, data: bytes) -> None:
        """Writes data; returns once the agent took all of it (it may still
        be queued there for the process). Closed once the execution ended
        or stdin was closed."""
        ex = self._ex
        data = bytes(data)
        await ex._ctl(lambda h: L.boxlet_exec_write(h, data, len(data), 0), allow_timeout=True)
        while True:
            ex._progress.clear()  # before the check: a drain after it wakes us
            if await ex._rt_call(lambda: L.boxlet_exec_stdin_pending(ex._h)) == 0:
                return
            if ex._pump_done:
                raise error(3, f"execution {ex.id}: ended with stdin not all taken")
            await ex._progress.wait()  # the pump's next drain takes acknowledgements

    async def close(self) -> None:
        """Closes stdin (a terminal gets end-of-input)."""
        await self._ex._ctl(L.boxlet_exec_close_stdin)

    @property
    def offset(self) -> int:
        """Where this handle's stdin continues (boxlet_exec_stdin_offset)."""
        return self._ex._stdin_offset


class Execution:
    """An attached execution. `stdout`/`stderr` are OutputStreams; `stdin`
    writes; signal(), resize(), kill(); `await wait()` gives the ExitResult.
    close() detaches (the process keeps running); so does garbage
    collection."""

    def __init__(self):
        raise TypeError("executions come from Box.exec and Box.attach")

    @classmethod
    async def _made(cls, box: "Box", h: ctypes.c_void_p) -> "Execution":
        ex = object.__new__(cls)
        ex.box, ex._rt, ex._h = box, box._rt, h
        ex.id = await ex._rt_call(lambda: _lib.text(L.boxlet_exec_id(h)))
        ex._fd = await ex._rt_call(lambda: L.boxlet_exec_fd(h))
        ex._stdin_offset = 0
        ex.stdout, ex.stderr = OutputStream(ex, "stdout"), OutputStream(ex, "stderr")
        ex.stdin = Stdin(ex)
        ex._held = 0  # bytes in both streams and the chunk queue
        ex._space = asyncio.Event()
        ex._space.set()
        ex._progress = asyncio.Event()
        ex._kicked = True  # the start or attach may have queued output already
        ex._waiter: Optional[asyncio.Future] = None
        ex._chunks: Optional[deque] = None
        ex._chunk_wake = asyncio.Event()
        ex._exit: Optional[ExitResult] = None
        ex._pump_error: Optional[BaseException] = None
        ex._pump_done = False
        ex._done = asyncio.Event()
        ex._pump = asyncio.get_running_loop().create_task(ex._run_pump())
        return ex

    def __repr__(self) -> str:
        return f"<boxlet.Execution {self.id}>"

    async def _rt_call(self, fn):
        return await self._rt._call(fn)

    # ---- the pump -------------------------------------------------------------

    def _kick(self) -> None:
        """Output may be queued in the library: drain without waiting."""
        self._kicked = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def _readable(self) -> None:
        if self._kicked:
            self._kicked = False
            return
        loop = asyncio.get_running_loop()
        self._waiter = fut = loop.create_future()
        loop.add_reader(self._fd, lambda: fut.done() or fut.set_result(None))
        try:
            await fut
        finally:
            loop.remove_reader(self._fd)
            self._waiter = None
            self._kicked = False

    def _drain_sync(self):
        """Every chunk ready now, up to a budget (runtime thread): (chunks,
        exit or None, whether the library still holds output the descriptor
        will not announce)."""
        out, taken = [], 0
        c = _lib.Chunk()
        while taken < DRAIN_BUDGET:
            rc = L.boxlet_exec_read(self._h, ctypes.byref(c), 0)
            if rc == ETIMEOUT:
                return out, None, bool(L.boxlet_exec_buffered(self._h))
            if rc != 0:
                raise error(rc, _lib.text(L.boxlet_exec_errmsg(self._h)))
            stream = STREAMS.get(c.stream, "stdout")
            if c.kind == 0:
                data = ctypes.string_at(c.data, c.len)
                taken += len(data)
                out.append(Chunk("data", stream, c.offset, data))
            elif c.kind == 1:
                out.append(Chunk("gap", stream, c.offset, b"", c.gap_end))
            else:
                st = _lib.Exit()
                rc = L.boxlet_exec_wait(self._h, ctypes.byref(st), 0)
                if rc != 0:
                    raise error(rc, _lib.text(L.boxlet_exec_errmsg(self._h)))
                return out, ExitResult._from_c(st), False
        return out, None, True

    async def _run_pump(self) -> None:
        try:
            while True:
                await self._readable()
                if self._h is None:
                    return
                chunks, ex, more = await self._rt_call(self._drain_sync)
                if more:
                    self._kicked = True
                for c in chunks:
                    self._deliver(c)
                self._progress.set()
                if ex is not None:
                    self._exit = ex
                    return
                while self._held > HIGH_WATER:
                    self._space.clear()
                    await self._space.wait()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # the library's error ends the streams
            self._pump_error = exc
        finally:
            self._pump_done = True
            self.stdout._end()
            self.stderr._end()
            self._chunk_wake.set()
            self._progress.set()
            self._done.set()

    def _deliver(self, c: Chunk) -> None:
        if self._chunks is not None:
            self._chunks.append(c)
            self._held += len(c.data)
            self._chunk_wake.set()
            return
        s = self.stdout if c.stream == "stdout" else self.stderr
        if c.kind == "gap":
            s.gaps.append((c.offset, c.gap_end))
        elif not s.discarded:
            self._held += len(c.data)
            s._put(c)

    def _taken(self, n: int) -> None:
        self._held -= n
        if self._held <= HIGH_WATER // 2:
            self._space.set()

    def _raise_pump_error(self) -> None:
        if self._pump_error is not None:
            raise self._pump_error

    # ---- reading in order ---------------------------------------------------------

    async def chunks(self) -> AsyncIterator[Chunk]:
        """Every chunk of both streams in the order the agent sent them,
        gaps included. Use it instead of (not beside) stdout/stderr: from
        its first call on, output goes here (what the streams held unread
        comes first, stdout's then stderr's)."""
        if self._chunks is None:
            self._chunks = deque()
            for s in (self.stdout, self.stderr):
                self._chunks.extend(s._q)
                s._q.clear()
                s._bytes = 0
        while True:
            while self._chunks:
                c = self._chunks.popleft()
                self._taken(len(c.data))
                yield c
            if self._pump_done:
                self._raise_pump_error()
                return
            self._chunk_wake.clear()
            await self._chunk_wake.wait()

    # ---- control ----------------------------------------------------------------------

    async def _ctl(self, fn, allow_timeout: bool = False) -> None:
        def run():
            if self._h is None:
                raise error(3, f"execution {self.id}: the handle was closed")
            rc = fn(self._h)
            if rc != 0 and not (allow_timeout and rc == ETIMEOUT):
                raise error(rc, _lib.text(L.boxlet_exec_errmsg(self._h)))
            self._stdin_offset = L.boxlet_exec_stdin_offset(self._h)
            return L.boxlet_exec_buffered(self._h)

        if await self._rt_call(run):
            self._kick()

    async def signal(self, sig: int) -> None:
        """Sends sig (1,2,3,6,10,12,15,28) to the process group."""
        await self._ctl(lambda h: L.boxlet_exec_signal(h, int(sig)))

    async def resize(self, rows: int, cols: int) -> None:
        await self._ctl(lambda h: L.boxlet_exec_resize(h, rows, cols))

    async def kill(self) -> None:
        """SIGKILL to the process group."""
        await self._ctl(L.boxlet_exec_kill)

    async def wait(self, timeout: Optional[float] = None) -> ExitResult:
        """Waits for the end and returns the exit result. Output of a stream
        nobody reads is discarded from now on (so it cannot hold the process
        up); streams being read keep everything. Timeout (a
        boxlet.errors.Timeout, also a TimeoutError) after timeout seconds."""
        for s in (self.stdout, self.stderr):
            if not s.consumed and self._chunks is None:
                s._discard()
        try:
            await asyncio.wait_for(asyncio.shield(self._done.wait()), timeout)
        except asyncio.TimeoutError:
            raise error(ETIMEOUT, f"execution {self.id}: still running after {timeout} s") from None
        self._raise_pump_error()
        if self._exit is None:
            raise error(11, f"execution {self.id}: ended without an exit result")
        return self._exit

    @property
    def exit(self) -> Optional[ExitResult]:
        """The exit result once known, else None."""
        return self._exit

    async def close(self) -> None:
        """Detaches (the process keeps running) and frees the handle."""
        h, self._h = self._h, None
        if h is None:
            return
        if not self._pump.done():
            self._pump.cancel()
            try:
                await self._pump
            except (asyncio.CancelledError, BoxletError):
                pass
        if not self._rt._thread.closed:
            await self._rt._call(L.boxlet_exec_free, h)

    def __del__(self):
        h, self._h = getattr(self, "_h", None), None
        if h is not None:
            self._rt._thread.release(L.boxlet_exec_free, h)

    async def __aenter__(self) -> "Execution":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

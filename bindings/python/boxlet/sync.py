"""boxlet without async, for scripts and notebooks: the same Runtime, Box
and Execution, each call waiting for its result.

The asyncio objects live on one event loop that runs in a background thread
of its own (started on first use), so this works where a loop is already
running (Jupyter) and needs no `asyncio.run` of the caller's.

    from boxlet import sync as boxlet

    with boxlet.Runtime() as rt:
        with rt.create(image="host") as box:
            r = box.run("python3", "-c", "print(6 * 7)")
            print(r.stdout)                      # b'42\\n'
            ex = box.exec("sh", "-c", "for i in 1 2 3; do echo $i; done")
            for data in ex.stdout:
                print(data)
            print(ex.wait().exit_code)
"""

from __future__ import annotations

import asyncio
import os as _os
import socket
import threading
from typing import Any, Iterator, Optional

from . import _box, _exec, _runtime
from ._types import BoxOptions, ExecInfo, ExecOptions, ExitResult, ImageInfo, RunResult, Stats

_loop: Optional[asyncio.AbstractEventLoop] = None
_loop_lock = threading.Lock()


def _the_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _loop_lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="boxlet-sync", daemon=True).start()
            _loop = loop
        return _loop


def _wait(coro) -> Any:
    loop = _the_loop()
    if threading.current_thread().name == "boxlet-sync":
        raise RuntimeError("boxlet.sync called from its own loop; use the async API there")
    return asyncio.run_coroutine_threadsafe(coro, loop).result()


def _iterate(agen) -> Iterator:
    try:
        while True:
            try:
                yield _wait(agen.__anext__())
            except StopAsyncIteration:
                return
    finally:
        _wait(agen.aclose())


class OutputStream:
    def __init__(self, s: _exec.OutputStream):
        self._s = s

    def __iter__(self) -> Iterator[bytes]:
        return _iterate(self._s.__aiter__())

    def text(self) -> Iterator[str]:
        return _iterate(self._s.text())

    def read(self) -> bytes:
        return _wait(self._s.read())

    @property
    def gaps(self) -> list:
        return self._s.gaps


class Stdin:
    def __init__(self, s: _exec.Stdin):
        self._s = s

    def write(self, data: bytes) -> None:
        _wait(self._s.write(data))

    def close(self) -> None:
        _wait(self._s.close())


class Execution:
    """boxlet.Execution, each call waiting."""

    def __init__(self, ex: _exec.Execution):
        self._ex = ex
        self.id = ex.id
        self.stdout, self.stderr = OutputStream(ex.stdout), OutputStream(ex.stderr)
        self.stdin = Stdin(ex.stdin)

    def chunks(self) -> Iterator:
        return _iterate(self._ex.chunks())

    def signal(self, sig: int) -> None:
        _wait(self._ex.signal(sig))

    def resize(self, rows: int, cols: int) -> None:
        _wait(self._ex.resize(rows, cols))

    def kill(self) -> None:
        _wait(self._ex.kill())

    def wait(self, timeout: Optional[float] = None) -> ExitResult:
        return _wait(self._ex.wait(timeout))

    @property
    def exit(self) -> Optional[ExitResult]:
        return self._ex.exit

    def close(self) -> None:
        _wait(self._ex.close())

    def __enter__(self) -> "Execution":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Box:
    """boxlet.Box, each call waiting; `with box:` removes it after."""

    def __init__(self, box: _box.Box):
        self._b = box

    def __getattr__(self, name):  # id, name, state, info
        return getattr(self._b, name)

    def __repr__(self) -> str:
        return repr(self._b)

    def start(self) -> None:
        _wait(self._b.start())

    def stop(self, timeout: Optional[float] = None) -> None:
        _wait(self._b.stop(timeout))

    def remove(self, force: bool = False) -> None:
        _wait(self._b.remove(force))

    def refresh(self) -> "Box":
        _wait(self._b.refresh())
        return self

    def stats(self) -> Stats:
        return _wait(self._b.stats())

    def exec(self, *argv: str, options: Optional[ExecOptions] = None, **kwargs) -> Execution:
        return Execution(_wait(self._b.exec(*argv, options=options, **kwargs)))

    def attach(self, exec_id: str, stdout_offset: int = 0, stderr_offset: int = 0, observer: bool = False) -> Execution:
        return Execution(_wait(self._b.attach(exec_id, stdout_offset, stderr_offset, observer)))

    def ports(self) -> list:
        return _wait(self._b.ports())

    def connect_port(self, port: int) -> "socket.socket":
        """A connected blocking socket to port on the box's loopback."""
        reader, writer = _wait(self._b.connect_port(port))
        sock = writer.get_extra_info("socket")
        fd = _os.dup(sock.fileno())
        writer.transport.abort()
        s = socket.socket(fileno=fd)
        s.setblocking(True)
        return s

    def copy_in(self, host_path: str, box_path: str, **kw) -> None:
        _wait(self._b.copy_in(host_path, box_path, **kw))

    def copy_out(self, box_path: str, host_path: str, **kw) -> None:
        _wait(self._b.copy_out(box_path, host_path, **kw))

    def snapshot(self, name: Optional[str] = None):
        return _wait(self._b.snapshot(name))

    def snapshots(self) -> list:
        return _wait(self._b.snapshots())

    def remove_snapshot(self, key: str) -> None:
        _wait(self._b.remove_snapshot(key))

    def restore(self, snapshot: str) -> None:
        _wait(self._b.restore(snapshot))

    def clone(self, snapshot: Optional[str] = None, name: Optional[str] = None) -> "Box":
        return Box(_wait(self._b.clone(snapshot, name)))

    def export(self, path: str) -> None:
        _wait(self._b.export(path))

    def executions(self) -> list[ExecInfo]:
        return _wait(self._b.executions())

    def run(self, *argv: str, max_bytes: int = 1 << 20, **kwargs) -> RunResult:
        return _wait(self._b.run(*argv, max_bytes=max_bytes, **kwargs))

    def close(self) -> None:
        _wait(self._b.close())

    def __enter__(self) -> "Box":
        return self

    def __exit__(self, *exc) -> None:
        _wait(self._b.__aexit__(*exc))


class Runtime:
    """boxlet.Runtime, each call waiting: `with boxlet.sync.Runtime() as
    rt` (embedded) or `boxlet.sync.Runtime.connect(url, api_key=...)`."""

    def __init__(self, home: Optional[str] = None, *, _rt: Optional[_runtime.Runtime] = None):
        self._rt = _rt or _wait(_make(home))

    @classmethod
    def connect(cls, url: str, api_key: Optional[str] = None) -> "Runtime":
        return cls(_rt=_wait(_make_remote(url, api_key)))

    @property
    def remote(self) -> bool:
        return self._rt.remote

    def open(self) -> "Runtime":
        _wait(self._rt.open())
        return self

    def close(self) -> None:
        _wait(self._rt.close())

    def __enter__(self) -> "Runtime":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def create(self, options: Optional[BoxOptions] = None, /, **kwargs) -> Box:
        return Box(_wait(self._rt.create(options, **kwargs)))

    def get(self, key: str) -> Box:
        return Box(_wait(self._rt.get(key)))

    def list(self) -> list[Box]:
        return [Box(b) for b in _wait(self._rt.list())]

    def remove(self, key: str, force: bool = False) -> None:
        _wait(self._rt.remove(key, force))

    def images(self) -> list[str]:
        return _wait(self._rt.images())

    def image(self, key: str) -> ImageInfo:
        return _wait(self._rt.image(key))

    def import_image(self, source: str, name: str) -> None:
        _wait(self._rt.import_image(source, name))

    def remove_image(self, key: str, force: bool = False) -> None:
        _wait(self._rt.remove_image(key, force))

    def create_volume(self, name: str, size_bytes: int = 0):
        return _wait(self._rt.create_volume(name, size_bytes))

    def volumes(self) -> list:
        return _wait(self._rt.volumes())

    def volume(self, name: str):
        return _wait(self._rt.volume(name))

    def remove_volume(self, name: str, force: bool = False) -> None:
        _wait(self._rt.remove_volume(name, force))

    def import_box(self, path: str, name: Optional[str] = None) -> "Box":
        return Box(_wait(self._rt.import_box(path, name)))

    def pull(self, ref: str, name: Optional[str] = None, progress=None) -> None:
        _wait(self._rt.pull(ref, name, progress))


async def _make(home):  # the asyncio objects are made on their loop
    return _runtime.Runtime(home)


async def _make_remote(url, api_key):
    return _runtime.Runtime.connect(url, api_key)

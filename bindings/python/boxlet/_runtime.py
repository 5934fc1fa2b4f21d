"""Runtime: boxlet embedded (boxes in this process's runtime home, no
server) or remote (a `boxlet serve`), with one switch.

The C library lets a runtime, and the boxes and executions made from it, be
used by one thread at a time. So each Runtime owns one thread — every call
into the library for it runs there, in order — and the asyncio loop only
waits: output wakes it through the executions' pollable descriptors
(loop.add_reader), never a thread per execution. A pull, which can take
minutes, runs on a runtime handle and thread of its own so it holds up
nothing else."""

from __future__ import annotations

import asyncio
import ctypes
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Optional

from . import _lib
from ._types import (
    PULL_PHASES,
    BoxOptions,
    ImageInfo,
    PortMapping,
    PullProgress,
    VolumeInfo,
    env_list,
    volume_mount,
)
from .errors import InvalidArgument, error

L = _lib.lib


def _strs(items: list[str]):
    arr = (ctypes.c_char_p * max(len(items), 1))()
    for i, s in enumerate(items):
        arr[i] = s.encode()
    return arr


class _Thread:
    """The one thread that calls the library for a runtime."""

    def __init__(self, name: str):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._released: deque = deque()
        self.closed = False

    async def call(self, fn: Callable, *args) -> Any:
        if self.closed:
            raise error(3, "the runtime is closed")
        return await asyncio.get_running_loop().run_in_executor(self._pool, self._run, fn, args)

    def _run(self, fn: Callable, args) -> Any:
        self.flush()
        return fn(*args)

    def flush(self) -> None:
        """Frees the handles garbage collection let go (runtime thread)."""
        while self._released:
            free, h = self._released.popleft()
            free(h)

    def release(self, free: Callable, h) -> None:
        """Queues a handle to free on the runtime's thread at its next call.
        Safe from __del__, which may run inside any code, the executor's own
        locked sections included: a deque append takes no lock."""
        if not self.closed:
            self._released.append((free, h))

    def close(self) -> None:
        self.closed = True  # handles released from now on outlived their runtime: dropped
        self._pool.shutdown(wait=True)


def _open_sync(url: Optional[str], api_key: Optional[str], home: Optional[str]):
    h = ctypes.c_void_p()
    if url is not None:
        rc = L.boxlet_runtime_connect(url.encode(), api_key.encode() if api_key else None, ctypes.byref(h))
    else:
        rc = L.boxlet_runtime_open(home.encode() if home else None, ctypes.byref(h))
    if rc != 0:
        msg = _lib.text(L.boxlet_runtime_errmsg(h)) if h else ""
        if h:
            L.boxlet_runtime_free(h)
        raise error(rc, msg)
    return h


class Runtime:
    """`async with boxlet.Runtime() as rt` (embedded; home=None is
    $BOXLET_HOME or the default home) or `boxlet.Runtime.connect(url,
    api_key=...)` (remote). Nothing is opened until first use."""

    def __init__(self, home: Optional[str] = None, *, _url: Optional[str] = None, _api_key: Optional[str] = None):
        self.home = home
        self.url = _url
        self._api_key = _api_key
        self._h: Optional[ctypes.c_void_p] = None
        self._thread = _Thread("boxlet")
        self._lock = asyncio.Lock()

    @classmethod
    def connect(cls, url: str, api_key: Optional[str] = None) -> "Runtime":
        """A runtime served by `boxlet serve` at url (http://HOST:PORT or
        unix:/PATH). With no api_key, a local server's token file is used
        as the C SDK does (docs/remote.md)."""
        return cls(_url=url, _api_key=api_key)

    @property
    def remote(self) -> bool:
        return self.url is not None

    # ---- lifetime ---------------------------------------------------------

    async def open(self) -> "Runtime":
        async with self._lock:
            if self._h is None:
                self._h = await self._thread.call(_open_sync, self.url, self._api_key, self.home)
        return self

    async def close(self) -> None:
        """Frees the runtime. Boxes keep running; handles made from it stop
        working."""
        if self._thread.closed:
            return
        h, self._h = self._h, None
        if h is not None:
            await self._thread.call(L.boxlet_runtime_free, h)
        self._thread.close()

    async def __aenter__(self) -> "Runtime":
        return await self.open()

    async def __aexit__(self, *exc) -> None:
        await self.close()

    # ---- calls on the runtime's thread -------------------------------------

    async def _call(self, fn: Callable, *args) -> Any:
        if self._h is None:
            await self.open()
        return await self._thread.call(fn, *args)

    def _fail(self, rc: int, msg: str = ""):
        """The exception for rc, with the runtime's message (runtime thread)."""
        return error(rc, msg or _lib.text(L.boxlet_runtime_errmsg(self._h)))

    # ---- boxes ------------------------------------------------------------

    async def create(self, options: Optional[BoxOptions] = None, /, **kwargs) -> "Box":
        """Creates a box (configured: its first exec starts it). Takes a
        BoxOptions, keyword arguments of the same names, or both (keywords
        win). `async with await rt.create(...) as box:` removes it after."""
        o = options or BoxOptions()
        for k, v in kwargs.items():
            if not hasattr(o, k):
                raise InvalidArgument(1, f"create: unknown option {k!r}")
            setattr(o, k, v)
        return await self._call(self._create_sync, o)

    def _create_sync(self, o: BoxOptions) -> "Box":
        c = _lib.BoxOpts()
        L.boxlet_box_opts_init(ctypes.byref(c))
        keep = []  # what the struct points into, alive until the call returns
        if o.name is not None:
            c.name = o.name.encode()
        c.image = o.image.encode()
        env = env_list(o.env)
        if env:
            keep.append(_strs(env))
            c.env, c.nenv = ctypes.cast(keep[-1], ctypes.POINTER(ctypes.c_char_p)), len(env)
        if o.working_dir is not None:
            c.working_dir = o.working_dir.encode()
        if o.user is not None:
            c.user = o.user.encode()
        if o.cpus is not None:
            c.cpus = float(o.cpus)
        if o.memory_mib is not None:
            c.memory_mib = int(o.memory_mib)
        if o.pids_max is not None:
            c.pids_max = int(o.pids_max)
        c.network = 1 if o.network else 0
        labels = env_list(o.labels)
        if labels:
            keep.append(_strs(labels))
            c.labels, c.nlabels = ctypes.cast(keep[-1], ctypes.POINTER(ctypes.c_char_p)), len(labels)
        c.auto_remove = 1 if o.auto_remove else 0
        if o.host_ports:
            ports = (ctypes.c_uint * len(o.host_ports))(*o.host_ports)
            keep.append(ports)
            c.host_ports, c.nhost_ports = ports, len(o.host_ports)
        if o.disk_size_gb is not None:
            c.disk_size_gb = int(o.disk_size_gb)
        if o.ports:
            try:
                maps = [PortMapping.parse(p) for p in o.ports]
            except (ValueError, TypeError, IndexError) as exc:
                raise InvalidArgument(1, f"create: {exc}") from None
            ports = (_lib.Port * len(maps))()
            for i, m in enumerate(maps):
                ports[i].host_addr, ports[i].host_port, ports[i].box_port = m.host_addr.encode(), m.host_port, m.box_port
            keep.append(ports)
            c.ports, c.nports = ports, len(maps)
        if o.volumes:
            try:
                mounts = [volume_mount(v) for v in o.volumes]
            except (ValueError, TypeError) as exc:
                raise InvalidArgument(1, f"create: {exc}") from None
            vols = (_lib.VolumeMount * len(mounts))()
            for i, (host, vol, guest, ro) in enumerate(mounts):
                vols[i].host_path = host.encode() if host else None
                vols[i].volume = vol.encode() if vol else None
                vols[i].guest_path = guest.encode()
                vols[i].read_only = 1 if ro else 0
            keep.append(vols)
            c.volumes, c.nvolumes = vols, len(mounts)
        h = ctypes.c_void_p()
        rc = L.boxlet_box_create(self._h, ctypes.byref(c), ctypes.byref(h))
        if rc != 0:
            raise self._fail(rc)
        return Box._made(self, h)

    async def get(self, key: str) -> "Box":
        """The box of this id, name or unique id prefix (NotFound, Conflict
        for an ambiguous prefix)."""
        return await self._call(self._get_sync, key)

    def _get_sync(self, key: str) -> "Box":
        h = ctypes.c_void_p()
        rc = L.boxlet_box_get(self._h, key.encode(), ctypes.byref(h))
        if rc != 0:
            raise self._fail(rc)
        return Box._made(self, h)

    async def list(self) -> list["Box"]:
        """Every box, oldest first."""
        return await self._call(self._list_sync)

    def _list_sync(self) -> list["Box"]:
        arr = ctypes.POINTER(ctypes.c_void_p)()
        n = ctypes.c_size_t()
        rc = L.boxlet_box_list(self._h, ctypes.byref(arr), ctypes.byref(n))
        if rc != 0:
            raise self._fail(rc)
        try:
            return [Box._made(self, ctypes.c_void_p(arr[i])) for i in range(n.value)]
        finally:
            _lib.libc.free(arr)

    async def remove(self, key: str, force: bool = False) -> None:
        """Removes the box key names (Conflict if it runs, unless force)."""
        box = await self.get(key)
        try:
            await box.remove(force=force)
        finally:
            await box.close()

    async def import_box(self, path: str, name: Optional[str] = None) -> "Box":
        """A new box (not started) from the box archive at path, which is
        untrusted (docs/state.md "Export and import"): InvalidArgument for
        an archive refused, LimitReached past the box's disk quota."""

        def run():
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            h = ctypes.c_void_p()
            try:
                rc = L.boxlet_runtime_import_box(self._h, fd, name.encode() if name else None, ctypes.byref(h))
            finally:
                os.close(fd)
            if rc != 0:
                raise self._fail(rc)
            return Box._made(self, h)

        return await self._call(run)

    # ---- volumes ------------------------------------------------------------

    async def create_volume(self, name: str, size_bytes: int = 0) -> VolumeInfo:
        """A managed volume (size_bytes 0: 10 GiB) for BoxOptions.volumes."""

        def run():
            info = _lib.VolumeInfo()
            rc = L.boxlet_volume_create(self._h, name.encode(), int(size_bytes), ctypes.byref(info))
            if rc != 0:
                raise self._fail(rc)
            return VolumeInfo._from_c(info)

        return await self._call(run)

    async def volumes(self) -> list[VolumeInfo]:
        def run():
            arr = ctypes.POINTER(_lib.VolumeInfo)()
            n = ctypes.c_size_t()
            rc = L.boxlet_volume_list(self._h, ctypes.byref(arr), ctypes.byref(n))
            if rc != 0:
                raise self._fail(rc)
            try:
                return [VolumeInfo._from_c(arr[i]) for i in range(n.value)]
            finally:
                _lib.libc.free(arr)

        return await self._call(run)

    async def volume(self, name: str) -> VolumeInfo:
        def run():
            info = _lib.VolumeInfo()
            rc = L.boxlet_volume_get(self._h, name.encode(), ctypes.byref(info))
            if rc != 0:
                raise self._fail(rc)
            return VolumeInfo._from_c(info)

        return await self._call(run)

    async def remove_volume(self, name: str, force: bool = False) -> None:
        """Conflict while boxes use it, unless force."""

        def run():
            rc = L.boxlet_volume_remove(self._h, name.encode(), 1 if force else 0)
            if rc != 0:
                raise self._fail(rc)

        await self._call(run)

    # ---- images -------------------------------------------------------------

    async def images(self) -> list[str]:
        return await self._call(self._images_sync)

    def _images_sync(self) -> list[str]:
        arr = ctypes.POINTER(ctypes.c_void_p)()
        n = ctypes.c_size_t()
        rc = L.boxlet_image_list(self._h, ctypes.byref(arr), ctypes.byref(n))
        if rc != 0:
            raise self._fail(rc)
        try:
            return [_lib.text(ctypes.string_at(arr[i])) for i in range(n.value)]
        finally:
            for i in range(n.value):
                _lib.libc.free(arr[i])
            _lib.libc.free(arr)

    async def image(self, key: str) -> ImageInfo:
        def run():
            info = _lib.ImageInfo()
            rc = L.boxlet_image_get(self._h, key.encode(), ctypes.byref(info))
            if rc != 0:
                raise self._fail(rc)
            return ImageInfo._from_c(info)

        return await self._call(run)

    async def import_image(self, source: str, name: str) -> None:
        """Imports a rootfs directory or tarball or an OCI layout (read on the
        server's machine for a remote runtime)."""

        def run():
            rc = L.boxlet_image_import(self._h, source.encode(), name.encode())
            if rc != 0:
                raise self._fail(rc)

        await self._call(run)

    async def remove_image(self, key: str, force: bool = False) -> None:
        def run():
            rc = L.boxlet_image_remove(self._h, key.encode(), 1 if force else 0)
            if rc != 0:
                raise self._fail(rc)

        await self._call(run)

    async def pull(
        self, ref: str, name: Optional[str] = None, progress: Optional[Callable[[PullProgress], None]] = None
    ) -> None:
        """Pulls ref from its registry. Runs on a runtime handle and thread of
        its own (a pull may take minutes; nothing else waits for it);
        progress is called on the event loop."""
        loop = asyncio.get_running_loop()
        thread = _Thread("boxlet-pull")
        try:
            await thread.call(self._pull_sync, loop, ref, name, progress)
        finally:
            thread.close()

    def _pull_sync(self, loop, ref, name, progress) -> None:
        h = _open_sync(self.url, self._api_key, self.home)
        try:
            o = _lib.PullOpts()
            L.boxlet_pull_opts_init(ctypes.byref(o))
            if name:
                o.name = name.encode()

            def report(ev, _arg):
                e = ev.contents
                p = PullProgress(_lib.text(e.digest), e.index, e.count, PULL_PHASES[e.phase], e.done, e.total)
                loop.call_soon_threadsafe(progress, p)

            cb = _lib.PULL_PROGRESS(report) if progress else _lib.PULL_PROGRESS()
            o.progress = cb
            rc = L.boxlet_image_pull_with(h, ref.encode(), ctypes.byref(o))
            if rc != 0:
                raise error(rc, _lib.text(L.boxlet_runtime_errmsg(h)))
        finally:
            L.boxlet_runtime_free(h)


from ._box import Box  # noqa: E402  (Box refers back to Runtime)

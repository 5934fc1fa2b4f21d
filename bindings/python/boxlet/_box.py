"""Box: one box of a runtime — its lifecycle, its executions."""

from __future__ import annotations

import ctypes
import os
from typing import TYPE_CHECKING, Optional

from . import _lib
import asyncio
import socket

from ._types import (
    BoxInfo,
    ExecInfo,
    ExecOptions,
    PortMapping,
    RunResult,
    SnapshotInfo,
    Stats,
    config_of,
    env_list,
)
from .errors import InvalidArgument, error

if TYPE_CHECKING:
    from ._exec import Execution
    from ._runtime import Runtime

L = _lib.lib
STATES = {0: "configured", 1: "running", 2: "stopping", 3: "stopped", 4: "failed"}


class Box:
    """A box handle. Its fields are those of the last load (refresh() loads
    them again). Freeing the handle (close(), or garbage collection) never
    stops the box; `async with box:` removes it (forced) on exit."""

    def __init__(self):
        raise TypeError("boxes come from Runtime.create, get and list")

    @classmethod
    def _made(cls, rt: "Runtime", h: ctypes.c_void_p) -> "Box":
        """Wraps a handle (on the runtime's thread: reads its fields)."""
        b = object.__new__(cls)
        b._rt, b._h = rt, h
        b._load()
        return b

    def _load(self) -> None:
        h = self._h
        self.info = BoxInfo(
            id=_lib.text(L.boxlet_box_id(h)),
            name=_lib.text(L.boxlet_box_name(h)),
            image=_lib.text(L.boxlet_box_image(h)),
            state=STATES.get(L.boxlet_box_state_of(h), "unknown"),
            created_ms=L.boxlet_box_created_ms(h),
            pid=L.boxlet_box_pid(h),
            config=config_of(_lib.text(L.boxlet_box_config_json(h))),
        )

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def state(self) -> str:
        return self.info.state

    def __repr__(self) -> str:
        return f"<boxlet.Box {self.info.name} {self.info.id} {self.info.state}>"

    # ---- calls ----------------------------------------------------------------

    def _fail(self, rc: int):
        return error(rc, _lib.text(L.boxlet_box_errmsg(self._h)))

    def _exec_failed(self, rc: int, h: ctypes.c_void_p):
        """The exception for a start or attach that failed (runtime thread):
        the execution handle's message when one was made (then freed), else
        the box's."""
        msg = _lib.text(L.boxlet_exec_errmsg(h)) if h else ""
        if h:
            L.boxlet_exec_free(h)
        return error(rc, msg or _lib.text(L.boxlet_box_errmsg(self._h)))

    async def _do(self, fn, *args) -> None:
        def run():
            if self._h is None:
                raise error(2, f"box {self.info.id}: the handle was closed")
            rc = fn(self._h, *args)
            if rc != 0:
                raise self._fail(rc)
            self._load()

        await self._rt._call(run)

    async def start(self) -> None:
        """Starts the box and waits until it can run commands."""
        await self._do(L.boxlet_box_start)

    async def stop(self, timeout: Optional[float] = None) -> None:
        """SIGTERM to everything in it, SIGKILL after timeout seconds (10)."""
        await self._do(L.boxlet_box_stop, -1.0 if timeout is None else float(timeout))

    async def remove(self, force: bool = False) -> None:
        """Removes the box and its files (Conflict if running, unless force)."""

        def run():
            rc = L.boxlet_box_remove(self._h, 1 if force else 0)
            if rc != 0:
                raise self._fail(rc)

        await self._rt._call(run)

    async def refresh(self) -> "Box":
        await self._do(L.boxlet_box_refresh)
        return self

    async def stats(self) -> Stats:
        def run():
            s = _lib.Stats()
            rc = L.boxlet_box_stats(self._h, ctypes.byref(s))
            if rc != 0:
                raise self._fail(rc)
            return Stats(s.memory_bytes, s.memory_peak_bytes, s.oom_kills, s.pids, s.cpu_usec)

        return await self._rt._call(run)

    async def ports(self) -> list[PortMapping]:
        """The box's published ports (from its config)."""

        def run():
            n = L.boxlet_box_ports(self._h, None, 0)
            arr = (_lib.Port * max(n, 1))()
            n = L.boxlet_box_ports(self._h, arr, n)
            return [PortMapping(p.host_port, p.box_port, _lib.text(p.host_addr) or "127.0.0.1") for p in arr[:n]]

        return await self._rt._call(run)

    async def connect_port(self, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A TCP stream to `port` on the box's loopback, through its agent
        (no box networking needed): asyncio's reader and writer;
        writer.write_eof() reaches the service as EOF. Disconnected when
        nothing listens there."""

        def run():
            fd = ctypes.c_int(-1)
            rc = L.boxlet_box_connect_port(self._h, int(port), ctypes.byref(fd))
            if rc != 0:
                raise self._fail(rc)
            return fd.value

        fd = await self._rt._call(run)
        sock = socket.socket(fileno=fd)
        sock.setblocking(False)
        return await asyncio.open_connection(sock=sock)

    # ---- files ---------------------------------------------------------------

    @staticmethod
    def _copy_opts(overwrite: bool, keep_owners: bool, follow_symlinks: bool):
        o = _lib.CopyOpts()
        L.boxlet_copy_opts_init(ctypes.byref(o))
        o.overwrite, o.keep_owners, o.follow_symlinks = int(overwrite), int(keep_owners), int(follow_symlinks)
        return o

    async def copy_in(
        self, host_path: str, box_path: str, *, overwrite: bool = True, keep_owners: bool = False,
        follow_symlinks: bool = False,
    ) -> None:
        """Copies host_path into the box at box_path, as `docker cp` does
        (docs/files.md): files belong to the box's user unless keep_owners."""
        o = self._copy_opts(overwrite, keep_owners, follow_symlinks)
        await self._do_plain(L.boxlet_box_copy_in, host_path.encode(), box_path.encode(), ctypes.byref(o))

    async def copy_out(
        self, box_path: str, host_path: str, *, overwrite: bool = True, keep_owners: bool = False,
        follow_symlinks: bool = False,
    ) -> None:
        """Copies box_path out of the box to host_path, as `docker cp`."""
        o = self._copy_opts(overwrite, keep_owners, follow_symlinks)
        await self._do_plain(L.boxlet_box_copy_out, box_path.encode(), host_path.encode(), ctypes.byref(o))

    async def _do_plain(self, fn, *args) -> None:
        def run():
            rc = fn(self._h, *args)
            if rc != 0:
                raise self._fail(rc)

        await self._rt._call(run)

    # ---- snapshots and clones -------------------------------------------------------

    async def snapshot(self, name: Optional[str] = None) -> SnapshotInfo:
        """Snapshots the box (docs/state.md): O(1) when stopped."""

        def run():
            info = _lib.SnapshotInfo()
            rc = L.boxlet_snapshot_create(self._h, name.encode() if name else None, ctypes.byref(info))
            if rc != 0:
                raise self._fail(rc)
            return SnapshotInfo._from_c(info)

        return await self._rt._call(run)

    async def snapshots(self) -> list[SnapshotInfo]:
        def run():
            arr = ctypes.POINTER(_lib.SnapshotInfo)()
            n = ctypes.c_size_t()
            rc = L.boxlet_snapshot_list(self._h, ctypes.byref(arr), ctypes.byref(n))
            if rc != 0:
                raise self._fail(rc)
            try:
                return [SnapshotInfo._from_c(arr[i]) for i in range(n.value)]
            finally:
                _lib.libc.free(arr)

        return await self._rt._call(run)

    async def remove_snapshot(self, key: str) -> None:
        await self._do_plain(L.boxlet_snapshot_remove, key.encode())

    async def restore(self, snapshot: str) -> None:
        """Brings the (stopped) box back to a snapshot: later writes are lost."""
        await self._do_plain(L.boxlet_snapshot_restore, snapshot.encode())

    async def clone(self, snapshot: Optional[str] = None, name: Optional[str] = None) -> "Box":
        """A new box with this box's files (a snapshot's, or its current ones
        when stopped), sharing its layers."""

        def run():
            h = ctypes.c_void_p()
            rc = L.boxlet_box_clone(
                self._h, snapshot.encode() if snapshot else None, name.encode() if name else None, ctypes.byref(h)
            )
            if rc != 0:
                raise self._fail(rc)
            return Box._made(self._rt, h)

        return await self._rt._call(run)

    async def export(self, path: str) -> None:
        """Writes the (stopped) box as a box archive to the file path (made
        anew, mode 0600; removed again if the export fails), streamed
        (docs/state.md "Export and import")."""

        def run():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            try:
                rc = L.boxlet_box_export(self._h, fd)
            finally:
                os.close(fd)
            if rc != 0:
                os.unlink(path)
                raise self._fail(rc)

        await self._rt._call(run)

    async def close(self) -> None:
        """Frees the handle (the box keeps running)."""
        h, self._h = self._h, None
        if h is not None and not self._rt._thread.closed:
            await self._rt._call(L.boxlet_box_free, h)

    def __del__(self):
        h, self._h = getattr(self, "_h", None), None
        if h is not None:
            self._rt._thread.release(L.boxlet_box_free, h)

    async def __aenter__(self) -> "Box":
        return self

    async def __aexit__(self, *exc) -> None:
        try:
            if self._h is not None:
                await self.remove(force=True)
        finally:
            await self.close()

    # ---- executions -------------------------------------------------------------

    async def exec(self, *argv: str, options: Optional[ExecOptions] = None, **kwargs) -> "Execution":
        """Starts argv in the box (starting the box first if needed) and
        attaches from byte 0 as the stdin owner: no output is lost. Keyword
        arguments are ExecOptions fields (env, cwd, user, timeout, tty,
        stdin, retain, grace). A command that cannot be spawned is not an
        error: it ends at once with exit code 127 or 126 and an
        error_message."""
        if len(argv) == 1 and isinstance(argv[0], (list, tuple)):
            argv = tuple(argv[0])
        if not argv:
            raise InvalidArgument(1, "exec: no command")
        o = options or ExecOptions()
        for k, v in kwargs.items():
            if not hasattr(o, k):
                raise InvalidArgument(1, f"exec: unknown option {k!r}")
            setattr(o, k, v)
        from ._exec import Execution

        return Execution._made(self, await self._rt._call(self._start_sync, [str(a) for a in argv], o))

    def _start_sync(self, argv: list[str], o: ExecOptions) -> tuple:
        arr = (ctypes.c_char_p * len(argv))(*[a.encode() for a in argv])
        cmd = L.boxlet_cmd_newv(len(argv), arr)
        if not cmd:
            raise error(6, "exec: out of memory")
        try:
            rc = 0
            for kv in env_list(o.env):
                rc = rc or L.boxlet_cmd_putenv(cmd, kv.encode())
            if o.cwd is not None:
                rc = rc or L.boxlet_cmd_setdir(cmd, o.cwd.encode())
            if o.user is not None:
                rc = rc or L.boxlet_cmd_setuser(cmd, str(o.user).encode())
            if o.timeout is not None:
                rc = rc or L.boxlet_cmd_settimeout(cmd, float(o.timeout))
            if o.tty:
                rows, cols = (24, 80) if o.tty is True else o.tty
                rc = rc or L.boxlet_cmd_settty(cmd, rows, cols)
            if o.stdin is not None:
                data = bytes(o.stdin)
                rc = rc or L.boxlet_cmd_setstdin(cmd, data, len(data))
            if o.retain is not None:
                rc = rc or L.boxlet_cmd_setretain(cmd, int(o.retain))
            if o.grace is not None:
                rc = rc or L.boxlet_cmd_setgrace(cmd, float(o.grace))
            h = ctypes.c_void_p()
            # a failed setting is reported again, with its message, here
            rc = L.boxlet_exec_start(self._h, cmd, ctypes.byref(h))
            if rc != 0:
                raise self._exec_failed(rc, h)
            from ._exec import Execution

            return Execution._identify(h)
        finally:
            L.boxlet_cmd_free(cmd)

    async def attach(
        self, exec_id: str, stdout_offset: int = 0, stderr_offset: int = 0, observer: bool = False
    ) -> "Execution":
        """Attaches to a running or finished execution from the given offsets
        (boxlet.TAIL: only new output); as stdin owner unless observer."""
        from ._exec import Execution

        def run():
            h = ctypes.c_void_p()
            rc = L.boxlet_exec_attach(
                self._h, exec_id.encode(), stdout_offset, stderr_offset, 1 if observer else 0, ctypes.byref(h)
            )
            if rc != 0:
                raise self._exec_failed(rc, h)
            return Execution._identify(h)

        return Execution._made(self, await self._rt._call(run))

    async def executions(self) -> list[ExecInfo]:
        """Every execution the box's agent keeps, running and finished."""

        def run():
            arr = ctypes.POINTER(_lib.ExecInfo)()
            n = ctypes.c_size_t()
            rc = L.boxlet_exec_list(self._h, ctypes.byref(arr), ctypes.byref(n))
            if rc != 0:
                raise self._fail(rc)
            try:
                return [ExecInfo._from_c(arr[i]) for i in range(n.value)]
            finally:
                _lib.libc.free(arr)

        return await self._rt._call(run)

    async def run(self, *argv: str, max_bytes: int = 1 << 20, **kwargs) -> RunResult:
        """Runs argv to its end and captures at most max_bytes of stdout and
        of stderr each (the rest is counted, not kept)."""
        ex = await self.exec(*argv, **kwargs)
        out, err = bytearray(), bytearray()
        cut = {"stdout": False, "stderr": False}
        try:
            async for c in ex.chunks():
                if c.kind != "data":
                    continue
                buf = out if c.stream == "stdout" else err
                room = max_bytes - len(buf)
                if len(c.data) > room:
                    cut[c.stream] = True
                buf += c.data[: max(room, 0)]
            st = await ex.wait()
        finally:
            await ex.close()
        return RunResult(st, bytes(out), bytes(err), cut["stdout"], cut["stderr"])

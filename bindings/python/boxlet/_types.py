"""The package's plain data: options in, results out (dataclasses)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Mapping, Optional, Sequence, Union

from . import _lib

EnvLike = Union[Mapping[str, str], Sequence[str], None]


def env_list(env: EnvLike) -> list[str]:
    """KEY=VALUE strings from a mapping or a sequence of them."""
    if env is None:
        return []
    if isinstance(env, Mapping):
        return [f"{k}={v}" for k, v in env.items()]
    return [str(kv) for kv in env]


@dataclass
class BoxOptions:
    """Options of a new box (boxlet_box_opts); None keeps boxlet's default
    (docs/boxes.md: 1 CPU, 1024 MiB, 1024 pids, 10 GiB disk, no network)."""

    image: str = "host"
    name: Optional[str] = None
    env: EnvLike = None
    working_dir: Optional[str] = None
    user: Optional[str] = None
    cpus: Optional[float] = None
    memory_mib: Optional[int] = None
    pids_max: Optional[int] = None
    network: bool = False
    labels: Optional[Mapping[str, str]] = None
    auto_remove: bool = False
    host_ports: Sequence[int] = ()
    disk_size_gb: Optional[int] = None
    # published ports: (host_port, box_port), (host_addr, host_port,
    # box_port) or Docker's "[ADDR:]HOST:BOX"; host_addr defaults to
    # 127.0.0.1 (docs/network.md)
    ports: Sequence[Union[tuple, str, "PortMapping"]] = ()
    # volumes: Docker's "SRC:PATH[:ro]" (SRC an absolute host path or a
    # managed volume's name), (src, path) or (src, path, read_only)
    volumes: Sequence[Union[tuple, str]] = ()


@dataclass(frozen=True)
class PortMapping:
    """A published port: host_addr:host_port on the host reaches box_port on
    the box's loopback."""

    host_port: int
    box_port: int
    host_addr: str = "127.0.0.1"

    @classmethod
    def parse(cls, p) -> "PortMapping":
        if isinstance(p, PortMapping):
            return p
        if isinstance(p, str):
            addr, _, rest = p.rpartition(":")
            host, sep, box = (addr.rpartition(":")[2], ":", rest) if addr else (None, "", None)
            if not sep or not host.isdigit() or not rest.isdigit():
                raise ValueError(f"port {p!r}: expected [ADDR:]HOST:BOX")
            a = addr.rpartition(":")[0].strip("[]")
            return cls(int(host), int(box), a or "127.0.0.1")
        if len(p) == 2:
            return cls(int(p[0]), int(p[1]))
        return cls(int(p[1]), int(p[2]), str(p[0]))


@dataclass
class ExecOptions:
    """Settings of one command (boxlet_cmd_*)."""

    env: EnvLike = None
    cwd: Optional[str] = None
    user: Optional[str] = None
    timeout: Optional[float] = None  # seconds; the process group is killed after it
    tty: Union[bool, tuple, None] = None  # True: 24x80; (rows, cols)
    stdin: Optional[bytes] = None  # given whole, then closed (at most 1 MiB)
    retain: Optional[int] = None  # output bytes kept per stream for late readers
    grace: Optional[float] = None  # seconds a detached execution lives before SIGHUP


@dataclass(frozen=True)
class ExitResult:
    """How an execution ended (boxlet_exit)."""

    status: str  # "completed", "killed", "timed_out"
    exit_code: int  # the code, or -N for death by signal N
    signal: int
    timed_out: bool
    duration_ms: int
    stdout_bytes: int
    stderr_bytes: int
    cpu_us: int
    peak_rss_kib: int
    error_message: str  # why it could not start, "" otherwise

    @property
    def ok(self) -> bool:
        return self.status == "completed" and self.exit_code == 0

    @classmethod
    def _from_c(cls, st: _lib.Exit) -> "ExitResult":
        return cls(
            status=_lib.text(_lib.lib.boxlet_exec_status_name(st.status)),
            exit_code=st.exit_code,
            signal=st.signal,
            timed_out=bool(st.timed_out),
            duration_ms=st.duration_ms,
            stdout_bytes=st.stdout_bytes,
            stderr_bytes=st.stderr_bytes,
            cpu_us=st.cpu_us,
            peak_rss_kib=st.peak_rss_kib,
            error_message=_lib.text(st.error_message),
        )


@dataclass(frozen=True)
class Chunk:
    """One piece of output in order: data at an offset of a stream, or a
    gap — bytes [offset, gap_end) that were dropped before anyone read them
    (an observer that fell behind, output older than the retention)."""

    kind: str  # "data" or "gap"
    stream: str  # "stdout" or "stderr"
    offset: int
    data: bytes = b""
    gap_end: int = 0


@dataclass(frozen=True)
class RunResult:
    """What Box.run captured: at most max_bytes of each stream."""

    exit: ExitResult
    stdout: bytes
    stderr: bytes
    stdout_truncated: bool = False
    stderr_truncated: bool = False

    @property
    def exit_code(self) -> int:
        return self.exit.exit_code

    @property
    def ok(self) -> bool:
        return self.exit.ok

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace")


@dataclass(frozen=True)
class ExecInfo:
    """An execution the box's agent keeps (running or finished)."""

    id: str
    command: str
    pid: int
    tty: bool
    created_ms: int
    stdout_end: int
    stderr_end: int
    stdin_attached: bool
    exit: Optional[ExitResult]  # None while it runs
    stdin_bytes: int = 0  # stdin the execution took (so far, while it runs)

    @classmethod
    def _from_c(cls, i: _lib.ExecInfo) -> "ExecInfo":
        running = i.exit.status == 0
        return cls(
            id=_lib.text(i.id),
            command=_lib.text(i.command),
            pid=i.pid,
            tty=bool(i.tty),
            created_ms=i.created_ms,
            stdout_end=i.stdout_end,
            stderr_end=i.stderr_end,
            stdin_attached=bool(i.stdin_attached),
            exit=None if running else ExitResult._from_c(i.exit),
            stdin_bytes=i.stdin_bytes,
        )


@dataclass(frozen=True)
class Stats:
    """Resource use of a running box; a field is -1 when the host cannot
    measure it."""

    memory_bytes: int
    memory_peak_bytes: int
    oom_kills: int
    pids: int
    cpu_usec: int


@dataclass(frozen=True)
class ImageInfo:
    name: str
    kind: str  # "rootfs", "oci", "host"
    id: str
    reference: str
    layers: int
    size_bytes: int
    created_ms: int
    boxes: int

    @classmethod
    def _from_c(cls, i: _lib.ImageInfo) -> "ImageInfo":
        kinds = {0: "rootfs", 1: "oci", 2: "host"}
        return cls(
            name=_lib.text(i.name),
            kind=kinds.get(i.kind, "unknown"),
            id=_lib.text(i.id),
            reference=_lib.text(i.reference),
            layers=i.layers,
            size_bytes=i.size_bytes,
            created_ms=i.created_ms,
            boxes=i.boxes,
        )


@dataclass(frozen=True)
class PullProgress:
    """One progress report of a pull (boxlet_pull_event)."""

    digest: str
    index: int
    count: int
    phase: str
    done: int
    total: int


PULL_PHASES = ("waiting", "downloading", "downloaded", "cached", "extracting", "done", "failed")


@dataclass(frozen=True)
class BoxInfo:
    """A box as last loaded."""

    id: str
    name: str
    image: str
    state: str
    created_ms: int
    pid: int
    config: dict = field(default_factory=dict)


def config_of(text: str) -> dict:
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {}


@dataclass(frozen=True)
class SnapshotInfo:
    """A snapshot of a box (docs/state.md)."""

    id: str
    name: str
    box_id: str
    created_ms: int
    layers: int
    size_bytes: int

    @classmethod
    def _from_c(cls, i) -> "SnapshotInfo":
        return cls(_lib.text(i.id), _lib.text(i.name), _lib.text(i.box_id), i.created_ms, i.layers, i.size_bytes)


@dataclass(frozen=True)
class VolumeInfo:
    """A managed volume: named, persistent, with a size quota."""

    name: str
    size_bytes: int
    used_bytes: int
    created_ms: int
    boxes: int

    @classmethod
    def _from_c(cls, i) -> "VolumeInfo":
        return cls(_lib.text(i.name), i.size_bytes, i.used_bytes, i.created_ms, i.boxes)


def volume_mount(v) -> tuple:
    """(host_path or None, volume or None, guest_path, read_only) from a
    "SRC:PATH[:ro]" string or a (src, path[, read_only]) tuple."""
    if isinstance(v, str):
        parts = v.split(":")
        ro = len(parts) == 3 and parts[2] == "ro"
        if len(parts) not in (2, 3) or (len(parts) == 3 and parts[2] not in ("ro", "rw")):
            raise ValueError(f"volume {v!r}: expected SRC:PATH[:ro]")
        src, path = parts[0], parts[1]
    else:
        src, path, ro = (tuple(v) + (False,))[:3]
    if src.startswith("/"):
        return src, None, path, bool(ro)
    return None, src, path, bool(ro)

"""The C library, loaded with ctypes: where libboxlet.so is found, and the
prototype of every function the package calls. Nothing here is public.

The library is found, in order: $BOXLET_LIBRARY (a path to libboxlet.so.N,
for a build tree or an unusual prefix: an explicit override wins), the
directory of the installed library recorded when the package was built
(pkg-config's libdir for boxlet, in _paths.py), then the dynamic loader's
own search (ldconfig's cache: /usr/lib, /usr/local/lib once ldconfig ran).
"""

from __future__ import annotations

import ctypes
import os
from ctypes import (
    POINTER,
    Structure,
    c_char,
    c_char_p,
    c_double,
    c_int,
    c_longlong,
    c_size_t,
    c_uint,
    c_ulonglong,
    c_void_p,
)

SONAME = "libboxlet.so.0"


def _candidates() -> list[str]:
    out = []
    env = os.environ.get("BOXLET_LIBRARY")
    if env:
        out.append(env)
    try:
        from ._paths import LIBDIR  # written by setup.py at build time
    except ImportError:
        LIBDIR = None
    if LIBDIR:
        out.append(os.path.join(LIBDIR, SONAME))
    out.append(SONAME)
    return out


def _load() -> ctypes.CDLL:
    errors = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path)
        except OSError as exc:
            errors.append(f"{path}: {exc}")
            if path == os.environ.get("BOXLET_LIBRARY"):
                break  # an explicit choice that fails is not silently replaced
    raise ImportError(
        "boxlet: cannot load the C library ("
        + "; ".join(errors)
        + "); install boxlet (make install) or set BOXLET_LIBRARY to libboxlet.so.0"
    )


lib = _load()

# ---- structures (include/boxlet.h) --------------------------------------
# boxlet_box_opts is filled by boxlet_box_opts_init and may grow at its end
# in later versions: the reserve keeps an older package's struct from being
# overrun, and fields it does not know keep the library's defaults.


class Port(Structure):
    _fields_ = [("host_addr", c_char_p), ("host_port", c_uint), ("box_port", c_uint)]


class VolumeMount(Structure):
    _fields_ = [("host_path", c_char_p), ("volume", c_char_p), ("guest_path", c_char_p), ("read_only", c_int)]


class CopyOpts(Structure):
    _fields_ = [("overwrite", c_int), ("keep_owners", c_int), ("follow_symlinks", c_int)]


class SnapshotInfo(Structure):
    _fields_ = [
        ("id", c_char * 32),
        ("name", c_char * 129),
        ("box_id", c_char * 32),
        ("created_ms", c_longlong),
        ("layers", c_uint),
        ("size_bytes", c_longlong),
    ]


class VolumeInfo(Structure):
    _fields_ = [
        ("name", c_char * 129),
        ("size_bytes", c_ulonglong),
        ("used_bytes", c_ulonglong),
        ("created_ms", c_longlong),
        ("boxes", c_uint),
    ]


class BoxOpts(Structure):
    _fields_ = [
        ("name", c_char_p),
        ("image", c_char_p),
        ("env", POINTER(c_char_p)),
        ("nenv", c_size_t),
        ("working_dir", c_char_p),
        ("user", c_char_p),
        ("cpus", c_double),
        ("memory_mib", c_ulonglong),
        ("pids_max", c_uint),
        ("network", c_int),
        ("labels", POINTER(c_char_p)),
        ("nlabels", c_size_t),
        ("auto_remove", c_int),
        ("host_ports", POINTER(c_uint)),
        ("nhost_ports", c_size_t),
        ("disk_size_gb", c_uint),
        ("ports", POINTER(Port)),
        ("nports", c_size_t),
        ("volumes", POINTER(VolumeMount)),
        ("nvolumes", c_size_t),
        ("_reserve", c_char * 512),
    ]


class Chunk(Structure):
    _fields_ = [
        ("kind", c_int),
        ("stream", c_int),
        ("offset", c_ulonglong),
        ("data", c_void_p),
        ("len", c_size_t),
        ("gap_end", c_ulonglong),
    ]


class Exit(Structure):
    _fields_ = [
        ("status", c_int),
        ("exit_code", c_int),
        ("signal", c_int),
        ("timed_out", c_int),
        ("duration_ms", c_ulonglong),
        ("stdout_bytes", c_ulonglong),
        ("stderr_bytes", c_ulonglong),
        ("cpu_us", c_ulonglong),
        ("peak_rss_kib", c_ulonglong),
        ("error_message", c_char * 512),
    ]


class ExecInfo(Structure):
    _fields_ = [
        ("id", c_char * 130),
        ("command", c_char * 256),
        ("pid", c_int),
        ("tty", c_int),
        ("created_ms", c_longlong),
        ("stdout_end", c_ulonglong),
        ("stderr_end", c_ulonglong),
        ("stdin_attached", c_int),
        ("exit", Exit),
        ("stdin_bytes", c_ulonglong),
    ]


class Stats(Structure):
    _fields_ = [
        ("memory_bytes", c_longlong),
        ("memory_peak_bytes", c_longlong),
        ("oom_kills", c_longlong),
        ("pids", c_longlong),
        ("cpu_usec", c_longlong),
    ]


class ImageInfo(Structure):
    _fields_ = [
        ("name", c_char * 136),
        ("kind", c_int),
        ("id", c_char * 72),
        ("reference", c_char * 512),
        ("layers", c_uint),
        ("size_bytes", c_ulonglong),
        ("created_ms", c_longlong),
        ("boxes", c_uint),
    ]


class Utf8(Structure):
    _fields_ = [("held", ctypes.c_ubyte * 4), ("nheld", ctypes.c_ubyte)]


class PullEvent(Structure):
    _fields_ = [
        ("digest", c_char_p),
        ("index", c_uint),
        ("count", c_uint),
        ("phase", c_int),
        ("done", c_ulonglong),
        ("total", c_ulonglong),
    ]


PULL_PROGRESS = ctypes.CFUNCTYPE(None, POINTER(PullEvent), c_void_p)


class PullOpts(Structure):
    _fields_ = [
        ("name", c_char_p),
        ("progress", PULL_PROGRESS),
        ("progress_arg", c_void_p),
    ]


# ---- prototypes -----------------------------------------------------------

P = c_void_p  # every opaque handle
_PROTOS = {
    "boxlet_strerror": (c_char_p, [c_int]),
    "boxlet_code_name": (c_char_p, [c_int]),
    "boxlet_version": (c_char_p, []),
    "boxlet_utf8_init": (None, [POINTER(Utf8)]),
    "boxlet_utf8_feed": (c_size_t, [POINTER(Utf8), c_char_p, c_size_t, c_void_p]),
    "boxlet_utf8_flush": (c_size_t, [POINTER(Utf8), c_void_p]),
    "boxlet_runtime_open": (c_int, [c_char_p, POINTER(P)]),
    "boxlet_runtime_connect": (c_int, [c_char_p, c_char_p, POINTER(P)]),
    "boxlet_runtime_is_remote": (c_int, [P]),
    "boxlet_runtime_free": (None, [P]),
    "boxlet_runtime_errmsg": (c_char_p, [P]),
    "boxlet_box_opts_init": (None, [POINTER(BoxOpts)]),
    "boxlet_box_create": (c_int, [P, POINTER(BoxOpts), POINTER(P)]),
    "boxlet_box_get": (c_int, [P, c_char_p, POINTER(P)]),
    "boxlet_box_start": (c_int, [P]),
    "boxlet_box_stop": (c_int, [P, c_double]),
    "boxlet_box_remove": (c_int, [P, c_int]),
    "boxlet_box_free": (None, [P]),
    "boxlet_box_refresh": (c_int, [P]),
    "boxlet_box_id": (c_char_p, [P]),
    "boxlet_box_name": (c_char_p, [P]),
    "boxlet_box_image": (c_char_p, [P]),
    "boxlet_box_state_of": (c_int, [P]),
    "boxlet_box_state_name": (c_char_p, [c_int]),
    "boxlet_box_config_json": (c_char_p, [P]),
    "boxlet_box_created_ms": (c_longlong, [P]),
    "boxlet_box_pid": (c_int, [P]),
    "boxlet_box_stats": (c_int, [P, POINTER(Stats)]),
    "boxlet_box_ports": (c_size_t, [P, POINTER(Port), c_size_t]),
    "boxlet_box_connect_port": (c_int, [P, c_uint, POINTER(c_int)]),
    "boxlet_box_list": (c_int, [P, POINTER(POINTER(P)), POINTER(c_size_t)]),
    "boxlet_box_errmsg": (c_char_p, [P]),
    "boxlet_copy_opts_init": (None, [POINTER(CopyOpts)]),
    "boxlet_box_copy_in": (c_int, [P, c_char_p, c_char_p, POINTER(CopyOpts)]),
    "boxlet_box_copy_out": (c_int, [P, c_char_p, c_char_p, POINTER(CopyOpts)]),
    "boxlet_snapshot_create": (c_int, [P, c_char_p, POINTER(SnapshotInfo)]),
    "boxlet_snapshot_list": (c_int, [P, POINTER(POINTER(SnapshotInfo)), POINTER(c_size_t)]),
    "boxlet_snapshot_get": (c_int, [P, c_char_p, POINTER(SnapshotInfo)]),
    "boxlet_snapshot_remove": (c_int, [P, c_char_p]),
    "boxlet_snapshot_restore": (c_int, [P, c_char_p]),
    "boxlet_box_clone": (c_int, [P, c_char_p, c_char_p, POINTER(P)]),
    "boxlet_box_export": (c_int, [P, c_int]),
    "boxlet_runtime_import_box": (c_int, [P, c_int, c_char_p, POINTER(P)]),
    "boxlet_volume_create": (c_int, [P, c_char_p, c_ulonglong, POINTER(VolumeInfo)]),
    "boxlet_volume_list": (c_int, [P, POINTER(POINTER(VolumeInfo)), POINTER(c_size_t)]),
    "boxlet_volume_get": (c_int, [P, c_char_p, POINTER(VolumeInfo)]),
    "boxlet_volume_remove": (c_int, [P, c_char_p, c_int]),
    "boxlet_image_import": (c_int, [P, c_char_p, c_char_p]),
    "boxlet_image_pull_with": (c_int, [P, c_char_p, POINTER(PullOpts)]),
    "boxlet_pull_opts_init": (None, [POINTER(PullOpts)]),
    "boxlet_image_list": (c_int, [P, POINTER(POINTER(c_void_p)), POINTER(c_size_t)]),
    "boxlet_image_get": (c_int, [P, c_char_p, POINTER(ImageInfo)]),
    "boxlet_image_remove": (c_int, [P, c_char_p, c_int]),
    "boxlet_cmd_newv": (P, [c_int, POINTER(c_char_p)]),
    "boxlet_cmd_free": (None, [P]),
    "boxlet_cmd_putenv": (c_int, [P, c_char_p]),
    "boxlet_cmd_setdir": (c_int, [P, c_char_p]),
    "boxlet_cmd_setuser": (c_int, [P, c_char_p]),
    "boxlet_cmd_settimeout": (c_int, [P, c_double]),
    "boxlet_cmd_settty": (c_int, [P, c_uint, c_uint]),
    "boxlet_cmd_setretain": (c_int, [P, c_size_t]),
    "boxlet_cmd_setstdin": (c_int, [P, c_char_p, c_size_t]),
    "boxlet_cmd_setgrace": (c_int, [P, c_double]),
    "boxlet_exec_start": (c_int, [P, P, POINTER(P)]),
    "boxlet_exec_attach": (c_int, [P, c_char_p, c_ulonglong, c_ulonglong, c_int, POINTER(P)]),
    "boxlet_exec_id": (c_char_p, [P]),
    "boxlet_exec_read": (c_int, [P, POINTER(Chunk), c_int]),
    "boxlet_exec_fd": (c_int, [P]),
    "boxlet_exec_buffered": (c_int, [P]),
    "boxlet_exec_write": (c_int, [P, c_char_p, c_size_t, c_int]),
    "boxlet_exec_stdin_pending": (c_size_t, [P]),
    "boxlet_exec_stdin_offset": (c_ulonglong, [P]),
    "boxlet_exec_close_stdin": (c_int, [P]),
    "boxlet_exec_signal": (c_int, [P, c_int]),
    "boxlet_exec_resize": (c_int, [P, c_uint, c_uint]),
    "boxlet_exec_kill": (c_int, [P]),
    "boxlet_exec_wait": (c_int, [P, POINTER(Exit), c_int]),
    "boxlet_exec_free": (None, [P]),
    "boxlet_exec_errmsg": (c_char_p, [P]),
    "boxlet_exec_list": (c_int, [P, POINTER(POINTER(ExecInfo)), POINTER(c_size_t)]),
    "boxlet_exec_status_name": (c_char_p, [c_int]),
}

for _name, (_res, _args) in _PROTOS.items():
    _fn = getattr(lib, _name)
    _fn.restype = _res
    _fn.argtypes = _args

libc = ctypes.CDLL(None)
libc.free.argtypes = [c_void_p]
libc.free.restype = None


def text(p: bytes | None) -> str:
    """A C string from the library as str ('' for NULL)."""
    return p.decode("utf-8", "replace") if p else ""

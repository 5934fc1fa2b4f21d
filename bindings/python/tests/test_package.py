"""The package itself: the C structures it declares match include/boxlet.h
(compiled with cc, offset by offset), the library is found and a wrong
BOXLET_LIBRARY is a clear ImportError, and the synchronous facade."""

import ctypes
import os
import subprocess
import sys
import tempfile

import pytest

import boxlet
from boxlet import _lib
from boxlet import sync as bsync

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
STRUCTS = {
    "boxlet_box_opts": _lib.BoxOpts,
    "boxlet_chunk": _lib.Chunk,
    "boxlet_exit": _lib.Exit,
    "boxlet_exec_info": _lib.ExecInfo,
    "boxlet_stats": _lib.Stats,
    "boxlet_image_info": _lib.ImageInfo,
    "boxlet_utf8": _lib.Utf8,
    "boxlet_port": _lib.Port,
    "boxlet_volume_mount": _lib.VolumeMount,
    "boxlet_copy_opts": _lib.CopyOpts,
    "boxlet_snapshot_info": _lib.SnapshotInfo,
    "boxlet_volume_info": _lib.VolumeInfo,
    "boxlet_pull_opts": _lib.PullOpts,
    "boxlet_pull_event": _lib.PullEvent,
}


def test_structs_match_the_header():
    lines = ['#include <stdio.h>', '#include <stddef.h>', '#include "boxlet.h"', "int main(void) {"]
    for cname, py in STRUCTS.items():
        for fname, *_ in py._fields_:
            if fname.startswith("_"):
                continue
            lines.append(f'printf("{cname}.{fname} %zu\\n", offsetof({cname}, {fname}));')
        lines.append(f'printf("{cname} %zu\\n", sizeof({cname}));')
    lines.append("return 0; }")
    with tempfile.TemporaryDirectory() as d:
        src, exe = os.path.join(d, "layout.c"), os.path.join(d, "layout")
        with open(src, "w") as f:
            f.write("\n".join(lines))
        subprocess.run(["cc", "-I", os.path.join(ROOT, "include"), src, "-o", exe], check=True)
        out = subprocess.run([exe], capture_output=True, text=True, check=True).stdout
    c = dict(line.rsplit(" ", 1) for line in out.splitlines())
    for cname, py in STRUCTS.items():
        for fname, *_ in py._fields_:
            if not fname.startswith("_"):
                assert getattr(py, fname).offset == int(c[f"{cname}.{fname}"]), f"{cname}.{fname}"
        size = int(c[cname])
        if cname == "boxlet_box_opts":  # declared with a reserve for fields added later
            assert ctypes.sizeof(py) >= size and py._reserve.offset <= size
        else:
            assert ctypes.sizeof(py) == size, cname


def test_library_version_and_wrong_library():
    assert boxlet.library_version().count(".") == 2
    env = dict(os.environ, BOXLET_LIBRARY="/nonexistent/libboxlet.so.0")
    r = subprocess.run(
        [sys.executable, "-c", "import boxlet"],
        env=env,
        capture_output=True,
        text=True,
        cwd=os.path.join(ROOT, "bindings", "python"),
    )
    assert r.returncode != 0
    assert "ImportError" in r.stderr and "/nonexistent/libboxlet.so.0" in r.stderr


def test_sync_facade(mode, home, request):
    if mode == "embedded":
        rt = bsync.Runtime(home)
    else:
        url, key = request.getfixturevalue("server")
        rt = bsync.Runtime.connect(url, api_key=key)
    with rt:
        with rt.create(image="host") as box:
            r = box.run("sh", "-c", "echo 42; echo e >&2")
            assert r.stdout == b"42\n" and r.stderr == b"e\n" and r.ok
            ex = box.exec("sh", "-c", "for i in 1 2 3; do echo $i; done")
            assert b"".join(ex.stdout) == b"1\n2\n3\n"
            assert ex.wait().exit_code == 0
            with pytest.raises(boxlet.errors.NotFound):
                rt.get("no-such-box")


@pytest.mark.parametrize("example", ["code_tool.py", "notebook.py"])
def test_examples_run(example, home, tmp_path):
    env = dict(os.environ, BOXLET_HOME=home, TMPDIR=str(tmp_path))  # what it collects stays here
    r = subprocess.run(
        [sys.executable, os.path.join(ROOT, "examples", "python", example)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    if example == "code_tool.py":
        assert "[out] wrote /work/out/result.txt" in r.stdout and "collected:" in r.stdout
        assert "runaway: timed_out" in r.stdout
    else:
        assert "captured: 45 exit 0" in r.stdout and "snapshots: ['clean']" in r.stdout


def test_pip_installs_offline(tmp_path):
    """`pip install ./bindings/python` needs no network: no index, no build
    isolation (Debian's setuptools), and the installed package loads."""
    import shutil

    target, src = tmp_path / "site", tmp_path / "src"  # setuptools builds in the tree it is given
    shutil.copytree(
        os.path.join(ROOT, "bindings", "python"), src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__")
    )
    r = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-index", "--no-build-isolation",
         "--target", str(target), str(src)],
        capture_output=True, text=True, cwd=str(tmp_path),
    )
    assert r.returncode == 0, r.stderr
    assert (target / "boxlet" / "_paths.py").exists() and (target / "boxlet" / "py.typed").exists()
    r = subprocess.run(
        [sys.executable, "-c", "import boxlet; print(boxlet.__file__, boxlet.library_version())"],
        env=dict(os.environ, PYTHONPATH=str(target)), capture_output=True, text=True, cwd=str(tmp_path),
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(str(target))


def test_every_code_has_its_exception():
    for code in range(1, 16):
        exc = boxlet.errors.error(code, "m")
        assert type(exc) is not boxlet.BoxletError and type(exc).code == code
        assert exc.name == _lib.text(_lib.lib.boxlet_code_name(code)) != "unknown"
    assert type(boxlet.errors.error(999, "m")) is boxlet.BoxletError

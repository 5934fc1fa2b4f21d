"""The Python package's exec round trip beside the C SDK's: `/bin/true` in a
running box on the host image, through boxlet.Runtime (asyncio) and
boxlet.sync, appended to bench_box's CSV as scenario `exec` (variants
boxlet-python-hostimage and boxlet-python-sync-hostimage, comparable with
boxlet-sdk-hostimage), so the binding's overhead shows as a ratio.

Usage: python3 bench/python_exec.py BUILD CSV [RUNS]"""

import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time

build, csv_path = sys.argv[1], sys.argv[2]
runs = int(sys.argv[3]) if len(sys.argv) > 3 else 200
os.environ.setdefault("BOXLET_LIBRARY", os.path.join(build, "libboxlet.so.0"))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bindings", "python"))

import boxlet  # noqa: E402
from boxlet import sync as bsync  # noqa: E402

WARMUP = 20


async def async_rows(home):
    out = []
    async with boxlet.Runtime(home) as rt:
        async with await rt.create(image="host", name="bench-py") as box:
            for i in range(WARMUP + runs):
                t0 = time.perf_counter()
                r = await box.run("/bin/true")
                dt = (time.perf_counter() - t0) * 1000
                assert r.ok, r
                if i >= WARMUP:
                    out.append(dt)
    return out


def sync_rows(home):
    out = []
    with bsync.Runtime(home) as rt:
        with rt.create(image="host", name="bench-py-sync") as box:
            for i in range(WARMUP + runs):
                t0 = time.perf_counter()
                r = box.run("/bin/true")
                dt = (time.perf_counter() - t0) * 1000
                assert r.ok, r
                if i >= WARMUP:
                    out.append(dt)
    return out


def main():
    home = tempfile.mkdtemp(prefix="boxlet-bench-py-")
    try:
        rows = {"boxlet-python-hostimage": asyncio.run(async_rows(home)),
                "boxlet-python-sync-hostimage": sync_rows(home)}
    finally:
        shutil.rmtree(home, ignore_errors=True)
    new = not os.path.exists(csv_path) or os.path.getsize(csv_path) == 0
    with open(csv_path, "a") as f:
        if new:
            f.write("scenario,variant,run,value,unit\n")
        for variant, vals in rows.items():
            for i, v in enumerate(vals):
                f.write(f"exec,{variant},{i},{v:.4f},ms\n")
    for variant, vals in rows.items():
        print(f"bench: {variant}: median {statistics.median(vals):.3f} ms over {len(vals)}", file=sys.stderr)


main()

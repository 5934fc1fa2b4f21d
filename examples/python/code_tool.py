"""A code-execution tool as an agent framework would use it: run untrusted
Python in a fresh box with limits, stream its output as it comes, stop it at
a deadline, and collect the files it wrote.

    sudo BOXLET_LIBRARY=build/libboxlet.so.0 python3 examples/python/code_tool.py

(with libboxlet installed, BOXLET_LIBRARY is not needed)."""

import asyncio
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bindings", "python"))

import boxlet  # noqa: E402

UNTRUSTED = r"""
import os, time
for i in range(3):
    print(f"step {i}", flush=True)
    time.sleep(0.2)
os.makedirs("/work/out", exist_ok=True)
open("/work/out/result.txt", "w").write("42\n")
print("wrote /work/out/result.txt")
"""


async def run_code(rt: boxlet.Runtime, code: str, timeout: float = 30) -> dict:
    """Runs code in a throwaway box; returns its output, exit and files."""
    async with await rt.create(image="host", memory_mib=256, pids_max=128, cpus=1) as box:
        await box.run("sh", "-c", "mkdir -p /work && chown nobody /work")
        ex = await box.exec("python3", "-c", code, user="nobody", cwd="/work", timeout=timeout)

        async def show(stream, prefix):
            async for text in stream.text():
                for line in text.splitlines():
                    print(f"{prefix} {line}")

        await asyncio.gather(show(ex.stdout, "[out]"), show(ex.stderr, "[err]"))
        result = await ex.wait()
        files = tempfile.mkdtemp(prefix="code-tool-")
        try:
            await box.copy_out("/work/out", os.path.join(files, "out"))
        except boxlet.errors.NotFound:
            pass  # it wrote nothing
        return {"exit": result, "files": files}


async def main():
    async with boxlet.Runtime() as rt:
        r = await run_code(rt, UNTRUSTED)
        print("status:", r["exit"].status, "exit code:", r["exit"].exit_code, r["exit"].error_message)
        for root, _, names in os.walk(r["files"]):
            for n in names:
                print("collected:", os.path.join(root, n))
        r = await run_code(rt, "while True: pass", timeout=1)
        print("runaway:", r["exit"].status)


asyncio.run(main())

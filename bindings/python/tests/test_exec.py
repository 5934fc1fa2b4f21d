"""The exec contract through Python, embedded and remote: env, cwd, user,
timeout, terminal and resize, stdin and its end, signals, kill, reattach at
offsets with no loss, observers, text, gaps-free capture, errors as typed
exceptions, and 100 concurrent executions on one event loop."""

import asyncio
import os
import signal

import pytest

import boxlet
from boxlet import errors

from conftest import run


async def _box(rt, **kw):
    return await rt.create(image="host", memory_mib=256, **kw)


def test_env_cwd_user(make_runtime):
    async def main():
        async with make_runtime() as rt:
            async with await _box(rt, env={"B": "box"}) as box:
                r = await box.run(
                    "sh", "-c", 'echo "$A $B"; pwd; id -u', env={"A": "exec"}, cwd="/tmp", user="nobody"
                )
                assert r.ok, r
                assert r.stdout == b"exec box\n/tmp\n65534\n"

    run(main())


def test_exit_code_stderr_and_missing_program(make_runtime):
    async def main():
        async with make_runtime() as rt:
            async with await _box(rt) as box:
                ex = await box.exec("sh", "-c", "echo out; echo err >&2; exit 3")
                out, err = await asyncio.gather(ex.stdout.read(), ex.stderr.read())
                st = await ex.wait()
                assert (out, err, st.exit_code, st.status) == (b"out\n", b"err\n", 3, "completed")
                assert st.stdout_bytes == 4 and st.stderr_bytes == 4
                r = await box.run("/no/such/program")
                assert r.exit_code == 127 and r.exit.error_message

    run(main())


def test_timeout(make_runtime):
    async def main():
        async with make_runtime() as rt:
            async with await _box(rt) as box:
                r = await box.run("sleep", "30", timeout=0.5)
                assert r.exit.status == "timed_out" and r.exit.timed_out

    run(main())


def test_stdin_and_eof(make_runtime):
    async def main():
        async with make_runtime() as rt:
            async with await _box(rt) as box:
                ex = await box.exec("sh", "-c", "wc -c; cat /dev/null")
                data = bytes(range(256)) * 4096  # 1 MiB: more than one window
                await ex.stdin.write(data)
                await ex.stdin.close()
                assert await ex.stdout.read() == b"%d\n" % len(data)
                assert (await ex.wait()).ok
                ex = await box.exec("cat")
                reader = asyncio.ensure_future(ex.stdout.read())
                for i in range(50):
                    await ex.stdin.write(b"line %d\n" % i)
                await ex.stdin.close()
                assert await reader == b"".join(b"line %d\n" % i for i in range(50))
                await ex.wait()
                with pytest.raises(errors.Closed):
                    await ex.stdin.write(b"late")

    run(main())


def test_tty_and_resize(make_runtime):
    async def main():
        async with make_runtime() as rt:
            async with await _box(rt) as box:
                ex = await box.exec("sh", "-c", "stty size; read x; stty size", tty=(24, 80))
                got = b""
                async for d in ex.stdout:
                    got += d
                    if b"24 80" in got:
                        break
                await ex.resize(30, 100)
                await ex.stdin.write(b"go\n")
                rest = await ex.stdout.read()
                assert b"30 100" in rest
                assert (await ex.wait()).ok

    run(main())


def test_signal_and_kill(make_runtime):
    async def main():
        async with make_runtime() as rt:
            async with await _box(rt) as box:
                ex = await box.exec("sh", "-c", 'trap "echo got; exit 7" TERM; echo ready; while :; do sleep 0.05; done')
                it = ex.stdout.__aiter__()
                assert await it.__anext__() == b"ready\n"
                await ex.signal(signal.SIGTERM)
                rest = b"".join([d async for d in it])
                assert rest == b"got\n"
                assert (await ex.wait()).exit_code == 7
                with pytest.raises(errors.InvalidArgument):
                    ex2 = await box.exec("sleep", "30")
                    try:
                        await ex2.signal(99)
                    finally:
                        await ex2.kill()
                        st = await ex2.wait()
                        assert st.status == "killed" and st.signal == 9

    run(main())


def test_reattach_at_offset_loses_nothing(make_runtime):
    async def main():
        expected = b"".join(b"%d\n" % i for i in range(1, 100001))
        async with make_runtime() as rt:
            async with await _box(rt) as box:
                ex = await box.exec("sh", "-c", "seq 1 100000; read x")
                got = b""
                async for d in ex.stdout:
                    got += d
                    if len(got) >= 4096:
                        break
                exec_id = ex.id
                await ex.close()  # detach: the process runs on
                again = await box.attach(exec_id, stdout_offset=len(got))
                async for d in again.stdout:
                    got += d
                    if len(got) >= len(expected):
                        break
                assert got == expected
                obs = await box.attach(exec_id, stdout_offset=0, observer=True)
                with pytest.raises(errors.PermissionDenied):
                    await obs.stdin.write(b"no")
                await again.stdin.write(b"\n")
                assert (await again.wait()).ok
                assert await obs.stdout.read() == expected
                await obs.wait()
                infos = {i.id: i for i in await box.executions()}
                assert infos[exec_id].stdout_end == len(expected)

    run(main())


def test_text_never_splits_a_character(make_runtime):
    async def main():
        async with make_runtime() as rt:
            async with await _box(rt) as box:
                ex = await box.exec("sh", "-c", r"printf 'caf\303'; sleep 0.1; printf '\251 \377!'")
                text = "".join([t async for t in ex.stdout.text()])
                assert text == "café \ufffd!"

    run(main())


def test_chunks_in_order_and_large_output(make_runtime):
    async def main():
        async with make_runtime() as rt:
            async with await _box(rt) as box:
                # retain covers it all: remotely the execution runs ownerless
                # until the WebSocket attach is up (docs/remote.md)
                ex = await box.exec("sh", "-c", "head -c 20000000 /dev/zero; echo end >&2", retain=32 << 20)
                n, offsets = 0, []
                async for c in ex.chunks():
                    assert c.kind == "data"
                    if c.stream == "stdout":
                        assert c.offset == n
                        n += len(c.data)
                    else:
                        offsets.append(c.offset)
                assert n == 20000000 and offsets == [0]
                assert (await ex.wait()).stdout_bytes == n

    run(main())


def test_hundred_concurrent_executions_one_loop(make_runtime):
    async def main():
        async with make_runtime() as rt:
            async with await _box(rt) as box:
                async def one(i):
                    r = await box.run("sh", "-c", 'echo "n=$0"; head -c 10000 /dev/zero', str(i))
                    assert r.ok and r.stdout.startswith(b"n=%d\n" % i) and len(r.stdout) == 10000 + len(b"n=%d\n" % i)

                await asyncio.gather(*(one(i) for i in range(100)))

    run(main())


def test_errors_are_typed(make_runtime):
    async def main():
        async with make_runtime() as rt:
            with pytest.raises(errors.NotFound) as ei:
                await rt.get("no-such-box")
            assert ei.value.name == "not_found" and ei.value.code == 2 and ei.value.message
            with pytest.raises(errors.InvalidArgument):
                await rt.create(image="host", name="bad name!")
            with pytest.raises(errors.InvalidArgument):
                await rt.create(image="host", colour="blue")
            async with await _box(rt, name="py-dup") as box:
                with pytest.raises(errors.AlreadyExists):
                    await rt.create(image="host", name="py-dup")
                await box.start()
                with pytest.raises(errors.Conflict):
                    await box.remove()
                with pytest.raises(errors.NotFound):
                    await box.attach("e0000000000000000000000000")
            with pytest.raises(errors.NotFound):
                await rt.get("py-dup")

    run(main())


def test_box_lifecycle_and_listing(make_runtime):
    async def main():
        async with make_runtime() as rt:
            box = await _box(rt, name="py-life", labels={"k": "v"})
            try:
                assert box.state == "configured" and box.name == "py-life"
                await box.start()
                assert box.state == "running"
                assert (await box.stats()).pids >= 1
                assert "py-life" in [b.name for b in await rt.list()]
                await box.stop(timeout=1)
                assert box.state == "stopped"
                assert "host" in await rt.images()
            finally:
                await rt.remove("py-life", force=True)

    run(main())


def test_ports_published_and_connected(make_runtime, mode):
    async def main():
        async with make_runtime() as rt:
            # Remotely the server publishes the port (on this same host) and
            # connect_port goes through its tunnel route (docs/network.md).
            host_port = free_port()
            async with await _box(rt, ports=[f"127.0.0.1:{host_port}:7000"]) as box:
                assert await box.ports() == [boxlet.PortMapping(host_port, 7000)]
                srv = await box.exec("python3", "-c", ECHO, "7000")
                it = srv.stdout.__aiter__()
                assert await it.__anext__() == b"listening\n"
                reader, writer = await box.connect_port(7000)
                writer.write(b"through the agent")
                writer.write_eof()
                assert await reader.read() == b"through the agent"
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", host_port)
                writer.write(b"published")
                writer.write_eof()
                assert await reader.read() == b"published"
                writer.close()
                await srv.kill()
                with pytest.raises(errors.Disconnected):
                    await box.connect_port(7001)

    run(main())


ECHO = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
print("listening", flush=True)
while True:
    c, _ = s.accept()
    data = b""
    while (d := c.recv(65536)):
        data += d
    c.sendall(data); c.close()
"""


def free_port():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_files_snapshots_clones_volumes(make_runtime, tmp_path):
    async def main():
        async with make_runtime() as rt:
            src = tmp_path / "in"
            (src / "sub").mkdir(parents=True)
            (src / "sub" / "f.txt").write_bytes(b"hello")
            os.chmod(src / "sub" / "f.txt", 0o750)
            if rt.remote:  # copies over REST (keep_owners into a box is refused there)
                async with await _box(rt) as box:
                    await box.copy_in(str(src), "/tmp/x")
                    r = await box.run("sh", "-c", "cat /tmp/x/sub/f.txt; stat -c %a /tmp/x/sub/f.txt")
                    assert r.stdout == b"hello750\n" and r.ok
                    await box.copy_out("/tmp/x/sub", str(tmp_path / "out"))
                    assert (tmp_path / "out" / "f.txt").read_bytes() == b"hello"
                    assert (os.stat(tmp_path / "out" / "f.txt").st_mode & 0o777) == 0o750
                    with pytest.raises(errors.Unsupported):
                        await box.copy_in(str(src), "/tmp/y", keep_owners=True)
            # snapshots, clones and volumes: the same embedded and over the server's routes
            await rt.create_volume("pyvol", 64 << 20)
            try:
                async with await _box(rt, volumes=["pyvol:/data"]) as box:
                    await box.copy_in(str(src), "/work")
                    r = await box.run("sh", "-c", "cat /work/sub/f.txt; stat -c %a /work/sub/f.txt; echo v > /data/v")
                    assert r.stdout == b"hello750\n" and r.ok
                    await box.copy_out("/work/sub", str(tmp_path / "out"))
                    assert (tmp_path / "out" / "f.txt").read_bytes() == b"hello"
                    assert (os.stat(tmp_path / "out" / "f.txt").st_mode & 0o777) == 0o750
                    await box.stop(timeout=1)
                    snap = await box.snapshot("before")
                    assert [s.name for s in await box.snapshots()] == ["before"] and snap.box_id == box.id
                    await box.run("sh", "-c", "echo later > /work/sub/f.txt")
                    await box.stop(timeout=1)
                    await box.restore("before")
                    assert (await box.run("cat", "/work/sub/f.txt")).stdout == b"hello"
                    await box.stop(timeout=1)
                    async with await box.clone(snapshot="before") as twin:
                        r = await twin.run("sh", "-c", "cat /work/sub/f.txt /data/v")
                        assert r.stdout == b"hellov\n"
                    assert (await rt.volume("pyvol")).boxes == 1
                    with pytest.raises(errors.Conflict):
                        await rt.remove_volume("pyvol")
                    await box.remove_snapshot("before")
                    archive = str(tmp_path / "box.boxlet")
                    await box.export(archive)
                    async with await rt.import_box(archive, "pycopy") as copy:
                        r = await copy.run("sh", "-c", "cat /work/sub/f.txt; test -e /data/v || echo no-volume")
                        assert r.stdout == b"hellono-volume\n"
                    (tmp_path / "bad.boxlet").write_bytes(b"not a box archive")
                    with pytest.raises(errors.InvalidArgument):
                        await rt.import_box(str(tmp_path / "bad.boxlet"))
            finally:
                await rt.remove_volume("pyvol", force=True)
            assert "pyvol" not in [v.name for v in await rt.volumes()]

    run(main())

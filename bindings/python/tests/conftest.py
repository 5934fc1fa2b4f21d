"""Fixtures: a runtime home of the test session's own, and each test run
twice — embedded (the library in this process) and remote (a real
`boxlet serve` on loopback, started here with its token file). Every box a
test creates is removed at the end, failed or not.

Environment (set by tests/CMakeLists.txt): BOXLET_LIBRARY (the build's
libboxlet.so.0), BOXLET_AGENT (the static box agent), BOXLET_TEST_SERVER
(the boxlet CLI, for `boxlet serve`)."""

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import boxlet  # noqa: E402


@pytest.fixture(scope="session")
def home():
    d = tempfile.mkdtemp(prefix="boxlet-py-")
    yield d
    cleanup = subprocess.run([_cli(), "--home", d, "ls", "-aq"], capture_output=True, text=True)
    ids = cleanup.stdout.split()
    if ids:
        subprocess.run([_cli(), "--home", d, "rm", "-f", *ids], capture_output=True)
    shutil.rmtree(d, ignore_errors=True)


def _cli():
    cli = os.environ.get("BOXLET_TEST_SERVER")
    if not cli:
        pytest.skip("BOXLET_TEST_SERVER (the boxlet CLI) is not set: run through ctest")
    return cli


@pytest.fixture(scope="session")
def server(home):
    """A boxlet serve on 127.0.0.1 (any free port) for the session: (url, key)."""
    r, w = os.pipe()
    proc = subprocess.Popen(
        [_cli(), "--home", home, "serve", "--port", "0", "--ready-fd", str(w)],
        pass_fds=(w,),
        stderr=subprocess.DEVNULL,
    )
    os.close(w)
    with os.fdopen(r) as f:
        port = f.readline().strip()
    if not port.isdigit():
        proc.kill()
        proc.wait()
        pytest.fail("boxlet serve did not report its port")
    with open(os.path.join(home, "serve.token")) as f:
        key = f.read().strip()
    yield f"http://127.0.0.1:{port}", key
    proc.terminate()
    proc.wait()


@pytest.fixture(params=["embedded", "remote"])
def mode(request):
    return request.param


@pytest.fixture
def make_runtime(mode, home, request):
    """An unopened boxlet.Runtime of the test's mode."""

    def make():
        if mode == "embedded":
            return boxlet.Runtime(home)
        url, key = request.getfixturevalue("server")
        return boxlet.Runtime.connect(url, api_key=key)

    return make


def run(coro):
    """Runs a test's coroutine; one that hangs fails after two minutes
    instead of holding the suite (a deadline, not a timing assertion)."""
    return asyncio.run(asyncio.wait_for(coro, 120))

"""boxlet from a script or a notebook cell, without async: boxlet.sync runs
the asyncio API on a loop of its own, so it also works inside Jupyter,
whose loop is already running.

    sudo BOXLET_LIBRARY=build/libboxlet.so.0 python3 examples/python/notebook.py"""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bindings", "python"))

from boxlet import sync as boxlet  # noqa: E402

with boxlet.Runtime() as rt:
    with rt.create(image="host", memory_mib=256) as box:
        r = box.run("python3", "-c", "print(sum(range(10)))")
        print("captured:", r.stdout.decode().strip(), "exit", r.exit_code)

        ex = box.exec("sh", "-c", "for i in 1 2 3; do echo line $i; sleep 0.1; done")
        for text in ex.stdout.text():  # as it arrives
            print("streamed:", text, end="")
        print("exit:", ex.wait().exit_code)

        box.stop()
        box.snapshot("clean")  # O(1): the box's files frozen as a layer
        print("snapshots:", [s.name for s in box.snapshots()])

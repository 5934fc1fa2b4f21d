"""Records, at build time, where the installed libboxlet is (pkg-config's
libdir for boxlet), so the package finds the library the way an installed
program does; nothing else (pyproject.toml has the metadata). Offline: no
dependency is downloaded."""

import os
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py


def libdir():
    try:
        out = subprocess.run(
            ["pkg-config", "--variable=libdir", "boxlet"], capture_output=True, text=True, check=True
        ).stdout.strip()
        return out or None
    except (OSError, subprocess.CalledProcessError):
        return None


class BuildPy(build_py):
    def run(self):
        super().run()
        target = os.path.join(self.build_lib, "boxlet", "_paths.py")
        with open(target, "w") as f:
            f.write('"""Written by setup.py: where the installed libboxlet was at build time."""\n')
            f.write(f"LIBDIR = {libdir()!r}\n")


setup(cmdclass={"build_py": BuildPy})

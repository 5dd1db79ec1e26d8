"""Processes that hold a `directory_lock.DirectoryLock` for tests: a live owner, a killed one."""

import os
import signal
import subprocess
import sys

from conftest import REPO

_HOLD = """
import sys
from mmtl_tf import directory_lock
with directory_lock.DirectoryLock(sys.argv[1]):
    print("locked", flush=True)
    sys.stdin.readline()
"""


class Holder:
    """A subprocess that takes the lock of `directory` and keeps it until killed (a context
    manager; `pid` is its pid). A live owner in the sense of the lock: it holds the flock."""

    def __init__(self, directory):
        self.process = subprocess.Popen(
            [sys.executable, "-c", _HOLD, str(directory)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": REPO})
        line = self.process.stdout.readline()
        if line.strip() != "locked":
            self.kill()
            raise RuntimeError(f"the lock holder did not take the lock: {line!r} "
                               f"{self.process.stderr.read()}")
        self.pid = self.process.pid

    def kill(self):
        """SIGKILLs the holder (it cannot clean up) and waits for it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            stream.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.kill()
        return False

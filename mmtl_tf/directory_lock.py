"""An exclusive lock on a directory, held by one process at a time; stale locks are taken over.

A lock is a file `<directory>/.lock` created with O_CREAT | O_EXCL that holds the owner's pid
and, on Linux, the owner's start time (field 22 of /proc/<pid>/stat): `<pid> <start time>`.
A second process is refused while the owner lives; a lock whose process is gone (a killed run
or prepare) is removed and taken. So is a lock whose pid now belongs to another process (pids
are reused quickly in containers): its start time differs from the one written. A lock file
holding a pid only (written where /proc is missing, or by an older version) is judged by the
pid alone. `process_alive` is also how staging folders named after a pid (`.export-<pid>-*`)
are told to be abandoned.
"""

import os
from typing import Optional

LOCK_NAME = ".lock"


class DirectoryInUseError(RuntimeError):
    """Another live process holds the directory; the message names it, the pid and what to do."""


def process_start_time(pid: int) -> Optional[str]:
    """The start time of process `pid` (field 22 of /proc/<pid>/stat, clock ticks after boot, as
    text), or None where it cannot be read (no /proc, no such process)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    # Field 2 is the command name in parentheses and may hold spaces or ')': fields 3.. follow
    # the last ')'.
    fields = text.rpartition(")")[2].split()
    return fields[22 - 3] if len(fields) > 22 - 3 else None


def process_alive(pid: int, start_time: Optional[str] = None) -> bool:
    """True when a process with this pid exists (a pid we may not signal counts as alive) and,
    when `start_time` is given and the process' own can be read, it started at `start_time`:
    a pid reused by another process then counts as gone."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if start_time is None:
        return True
    current = process_start_time(pid)
    return current is None or current == start_time


def _lock_owner(path: str):
    """(pid, start time or None) written in a lock file; pid 0 when it is unreadable or empty."""
    try:
        with open(path, encoding="utf-8") as handle:
            fields = handle.read().split()
        pid = int(fields[0]) if fields else 0
    except (OSError, ValueError):
        return 0, None
    return pid, (fields[1] if len(fields) > 1 else None)


class DirectoryLock:
    """An exclusive lock on a directory for the life of a `with` block.

    Attributes:
      path: the lock file, `<directory>/.lock`.
      error: the exception type raised when another live process holds the lock (subclasses
        set their own, e.g. `run_dir.RunDirError`).
    """

    error = DirectoryInUseError

    def __init__(self, directory: str, user: str = "process", flag: str = "directory"):
        """Describes the lock; nothing is taken before `with`.

        Args:
          directory: the directory to lock (created if missing).
          user: what holds such locks, for the message ("run", "prepare").
          flag: what to choose instead, for the message ("--run_dir").
        """
        self.path = os.path.join(directory, LOCK_NAME)
        self._user = user
        self._flag = flag

    def __enter__(self):
        directory = os.path.dirname(self.path)
        os.makedirs(directory, exist_ok=True)
        for _ in range(2):
            try:
                descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                owner, started = _lock_owner(self.path)
                if owner and owner != os.getpid() and process_alive(owner, started):
                    raise self.error(
                        f"{directory} is in use by another {self._user} (pid {owner}). "
                        f"Wait for it to finish, or choose another {self._flag}. If you are "
                        f"sure no such process runs, delete {self.path} and retry.") from None
                os.remove(self.path)  # stale: its process is gone
                continue
            with os.fdopen(descriptor, "w") as handle:
                started = process_start_time(os.getpid())
                handle.write(f"{os.getpid()}" + (f" {started}" if started else ""))
            return self
        raise self.error(f"could not take the lock {self.path}; another process keeps "
                         f"replacing it: wait for it to finish, or choose another {self._flag}")

    def __exit__(self, *exc_info):
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass
        return False

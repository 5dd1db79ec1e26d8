"""An exclusive lock on a directory, held by one process at a time; stale locks are taken over.

A lock is a file `<directory>/.lock` created with O_CREAT | O_EXCL that holds the owner's pid.
A second process is refused while the owner lives; a lock whose process is gone (a killed run
or prepare) is removed and taken. `process_alive` is also how staging folders named after a
pid (`.export-<pid>-*`) are told to be abandoned.
"""

import os

LOCK_NAME = ".lock"


class DirectoryInUseError(RuntimeError):
    """Another live process holds the directory; the message names it, the pid and what to do."""


def process_alive(pid: int) -> bool:
    """True when a process with this pid exists (a pid we may not signal counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _lock_owner(path: str) -> int:
    """The pid written in a lock file, or 0 when it is unreadable or empty."""
    try:
        with open(path, encoding="utf-8") as handle:
            return int(handle.read().strip() or 0)
    except (OSError, ValueError):
        return 0


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
                owner = _lock_owner(self.path)
                if owner and owner != os.getpid() and process_alive(owner):
                    raise self.error(
                        f"{directory} is in use by another {self._user} (pid {owner}). "
                        f"Wait for it to finish, or choose another {self._flag}.") from None
                os.remove(self.path)  # stale: its process is gone
                continue
            with os.fdopen(descriptor, "w") as handle:
                handle.write(str(os.getpid()))
            return self
        raise self.error(f"could not take the lock {self.path}; another process keeps "
                         f"replacing it: wait for it to finish, or choose another {self._flag}")

    def __exit__(self, *exc_info):
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass
        return False

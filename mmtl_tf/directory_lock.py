"""An exclusive lock on a directory, held by one process at a time (`DirectoryLock`).

The lock is an advisory `fcntl.flock(LOCK_EX | LOCK_NB)` on the file `<directory>/.lock`,
held for the life of a `with` block. Taking it is one atomic system call: of processes that
try at once, exactly one gets it, and a process that ends in any way (a SIGKILL, a crash, a
lost container) gives it up, because the kernel releases a flock when the last descriptor of
its open file closes. So no lock is ever stale: nothing judges or removes another process' lock
file, and a reused pid does not matter.

The file stays in the directory after the block (emptied): removing it would let a process that
opened the old file before the removal lock it while a third locks a new file under the same
name, and both would hold "the" lock. An empty or leftover `.lock` therefore means nothing.

After taking the lock its owner writes `pid=<pid> start=<start time> host=<host name>` into the
file (the start time is field 22 of /proc/<pid>/stat where readable). It is only read for the
message of a refused process ("... in use by another prepare (pid N)"); the pid may be unknown
for a moment after the owner took the lock, and the message then says so. A file of an older
version, `<pid> [<start time>]` written with O_EXCL and no flock, whose process still lives (the
same start time) refuses the lock too, so an upgrade does not take a running old process'
directory; once that process is gone the file is simply taken over.

Within a process the lock is not reentrant: a second `DirectoryLock` on a locked directory is
refused before its file is opened (see NFS below). The descriptor is not inherited by programs
the owner starts (close-on-exec), but a child made by a bare `os.fork` shares the lock and keeps
it until the child ends too.

NFS: Linux emulates flock on NFS with POSIX byte-range locks held by the NFS server's lock
service (NLM for v3, the protocol itself for v4), so the lock excludes processes of other
hosts as well, with these limits: a file system mounted with `nolock` (or `local_lock=flock`)
keeps locks local to each host, and two hosts can then both hold one directory; POSIX locks
belong to a process, not a descriptor, and closing any descriptor of the file drops them, which
is why this module refuses a second lock within the process instead of opening the file again;
a mount whose server has no lock service fails with ENOLCK, which is reported as such (nothing
falls back to a weaker lock); a host that dies holds its locks until the server notices (the v4
lease or NLM's recovery, typically tens of seconds). The recorded host name lets the message name
an owner on another host, whose pid means nothing here.

Where fcntl is missing (Windows) the older scheme remains: the file is created with O_CREAT |
O_EXCL and holds `<pid> <start time>`, a lock whose process is gone (or whose pid now has
another start time) is removed and taken, and the file is removed on exit. That scheme has a
window between the create and the pid write and between judging and removing a stale file; two
processes started together can both hold a directory there.

`process_alive` is also how staging folders named after a pid (`.export-<pid>-*`) are told to
be abandoned.
"""

import errno
import os
import socket
import threading
from typing import Optional

try:
    import fcntl
except ImportError:  # Windows: the O_EXCL scheme
    fcntl = None

LOCK_NAME = ".lock"

# Lock files (real paths) held by this process, so that a second lock in the same process is
# refused without opening the file: on NFS, closing a second descriptor would drop the lock.
_HELD = set()
_HELD_GUARD = threading.Lock()


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


def _parse_owner(text: str) -> dict:
    """The owner a lock file's text names: {"pid": int or 0, "start": str or None, "host": str or
    None, "old": True for an older version's `<pid> [<start time>]`}; pid 0 when it names none."""
    fields = text.split()
    if fields and fields[0].isdigit():  # an older version's O_EXCL lock (or the fallback's)
        return {"pid": int(fields[0]), "start": fields[1] if len(fields) > 1 else None,
                "host": None, "old": True}
    values = dict(field.partition("=")[::2] for field in fields)
    pid = values.get("pid", "")
    return {"pid": int(pid) if pid.isdigit() else 0, "start": values.get("start") or None,
            "host": values.get("host") or None, "old": False}


def _lock_owner(path: str):
    """(pid, start time or None) written in a lock file; pid 0 when it is unreadable or empty."""
    try:
        with open(path, encoding="utf-8") as handle:
            owner = _parse_owner(handle.read())
    except (OSError, ValueError):
        return 0, None
    return owner["pid"], owner["start"]


def _read_descriptor(descriptor: int) -> str:
    """The text of the open file `descriptor` (from its start; the offset is not moved)."""
    chunks, offset = [], 0
    while True:
        chunk = os.pread(descriptor, 4096, offset)
        if not chunk:
            return b"".join(chunks).decode("utf-8", errors="replace")
        chunks.append(chunk)
        offset += len(chunk)


class DirectoryLock:
    """An exclusive lock on a directory for the life of a `with` block.

    Attributes:
      path: the lock file, `<directory>/.lock` (left in place, empty, after the block).
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
        self._descriptor = None
        self._held_key = None

    def _in_use(self, owner: str, advice: str = ""):
        """The error telling that `owner` ("pid N", "pid unknown") holds the directory."""
        return self.error(f"{os.path.dirname(self.path)} is in use by another {self._user} "
                          f"({owner}). Wait for it to finish, or choose another "
                          f"{self._flag}.{advice}")

    def __enter__(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        key = os.path.realpath(self.path)
        with _HELD_GUARD:
            if key in _HELD:
                raise self._in_use(f"pid {os.getpid()}, this process")
            if fcntl is None:
                self._create_exclusively()
            else:
                self._descriptor = self._lock_file()
            _HELD.add(key)
            self._held_key = key
        return self

    def _lock_file(self) -> int:
        """Opens and flocks the lock file, records this process in it; the open descriptor."""
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0),
                             0o644)
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as error:
                if error.errno in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP):
                    raise self.error(
                        f"cannot lock {self.path} ({error.strerror}): its file system takes no "
                        f"locks (an NFS mount without its lock service?); choose another "
                        f"{self._flag} on a local disk") from None
                if error.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise
                raise self._in_use(self._describe_owner(
                    _parse_owner(_read_descriptor(descriptor)))) from None
            owner = _parse_owner(_read_descriptor(descriptor))
            if (owner["old"] and owner["pid"] and owner["pid"] != os.getpid()
                    and process_alive(owner["pid"], owner["start"])):
                # An older version's lock (no flock) whose process still runs.
                raise self._in_use(f"pid {owner['pid']}", advice=(
                    f" If you are sure no such process runs, delete {self.path} and retry."))
            started = process_start_time(os.getpid())
            record = (f"pid={os.getpid()} start={started or '-'} host={socket.gethostname()}\n")
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, record.encode("utf-8"), 0)
        except BaseException:
            os.close(descriptor)  # releases the flock if it was taken
            raise
        return descriptor

    @staticmethod
    def _describe_owner(owner: dict) -> str:
        """"pid N", "pid N on host H" or "pid unknown" for the owner a refused process read."""
        if owner["host"] and owner["host"] != socket.gethostname():
            return f"pid {owner['pid']} on host {owner['host']}"
        start = None if owner["start"] in (None, "-") else owner["start"]
        if owner["pid"] and owner["pid"] != os.getpid() and process_alive(owner["pid"], start):
            return f"pid {owner['pid']}"
        # Empty, or a killed earlier owner's record: the owner took the lock a moment ago and has
        # not written its pid yet (or the file was edited).
        return "pid unknown: it has only just taken the lock"

    def _create_exclusively(self) -> None:
        """The scheme without fcntl: O_EXCL creation; a dead owner's file is removed and taken."""
        for _ in range(3):
            try:
                descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                owner, started = _lock_owner(self.path)
                if owner and owner != os.getpid() and process_alive(owner, started):
                    raise self._in_use(f"pid {owner}", advice=(
                        f" If you are sure no such process runs, delete {self.path} and "
                        f"retry.")) from None
                try:
                    os.remove(self.path)  # stale: its process is gone
                except FileNotFoundError:
                    pass  # another process removed it first
                continue
            with os.fdopen(descriptor, "w") as handle:
                started = process_start_time(os.getpid())
                handle.write(f"{os.getpid()}" + (f" {started}" if started else ""))
            return
        raise self.error(f"could not take the lock {self.path}; another process keeps "
                         f"replacing it: wait for it to finish, or choose another {self._flag}")

    def __exit__(self, *exc_info):
        with _HELD_GUARD:
            _HELD.discard(self._held_key)
            self._held_key = None
            descriptor, self._descriptor = self._descriptor, None
            if descriptor is None:  # the O_EXCL scheme
                try:
                    os.remove(self.path)
                except FileNotFoundError:
                    pass
                return False
            try:
                os.ftruncate(descriptor, 0)  # the file stays (see the module docstring)
            finally:
                os.close(descriptor)  # releases the flock
        return False

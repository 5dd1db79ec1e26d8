"""Atomic file writes: every file mmtl_tf writes appears whole or not at all.

A file is written under a temporary name in its own directory (`temporary_path`), flushed to
disk, then renamed over its final name with `os.replace`, which is atomic on POSIX file systems.
A process killed mid-write leaves at most a `*.tmp-<pid>` file, which readers never look at.
Files written without that flush (shards) are made durable together by `sync_files`, which
`EarlySync` starts early on a background thread.
"""

import collections
import concurrent.futures
import errno
import json
import os


def temporary_path(path: str) -> str:
    """The name a file is written under before `os.replace` moves it to `path`."""
    return f"{path}.tmp-{os.getpid()}"


def write_bytes(path: str, data: bytes, durable: bool = True) -> None:
    """Writes `data` to `path` atomically (temporary file, fsync, rename).

    Args:
      path: the final name.
      data: the bytes.
      durable: fsync before the rename, so a power loss cannot leave the new name over
        unwritten data. False skips it (the rename alone is atomic for a killed process) for
        files a later sync covers, such as preparation's done-records (`tfrecord_dir.commit`).
    """
    temporary = temporary_path(path)
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


def write_text(path: str, text: str, durable: bool = True) -> None:
    """Writes UTF-8 `text` to `path` atomically (`durable` as in `write_bytes`)."""
    write_bytes(path, text.encode("utf-8"), durable)


def write_json(path: str, value, durable: bool = True, indent: int = 2) -> None:
    """Writes `value` as key-sorted JSON (with a final newline) to `path` atomically (`durable`
    as in `write_bytes`). `indent=None` writes one line, through json's C encoder (indenting
    takes its pure-Python one: ~0.2 s for a record of 1,000 speakers)."""
    write_text(path, json.dumps(value, indent=indent, sort_keys=True) + "\n", durable)


def read_json(path: str):
    """Reads a JSON file.

    Raises:
      FileNotFoundError: the file does not exist (the message names it).
      ValueError: the file is not valid JSON; the message names the file and the position.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not valid JSON ({error}); the file is damaged: delete it "
                         f"or restore it, then rerun") from None
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not a UTF-8 JSON file ({error})") from None


def sync_files(folder: str, names) -> None:
    """fsyncs the files `names` of `folder`, then `folder` itself (its entries: new names, links).

    Only these files, not the whole file system as `os.sync` does (which also waits for every
    other process's writes; ~0.25-0.65 s of a preparation's serial part on this machine).
    """
    for name in names:
        descriptor = os.open(os.path.join(folder, name), os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
    try:
        descriptor = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:  # a platform without directory handles (Windows): renames are durable there
        return
    try:
        os.fsync(descriptor)
    except OSError as error:
        if error.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise  # some network and FUSE file systems cannot sync a directory: nothing to do
    finally:
        os.close(descriptor)


class EarlySync:
    """Starts shards on their way to disk while preparation goes on: every `every_bytes` written
    to a file, an fsync of it on a background thread (the syscall leaves the GIL free).

    Only an early start, so the `sync_files` of `tfrecord_dir.commit` finds the shards mostly
    clean instead of writing ~120 MB back in its serial part (0.22-0.24 s of a 2 s preparation
    here): the commit still syncs every file it names. A file renamed before its turn is skipped. Use in a `with`.
    """

    def __init__(self, every_bytes: int = 16 << 20):
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self._every_bytes = every_bytes
        self._unsynced = collections.Counter()

    def wrote(self, path: str, size: int, flush) -> None:
        """Counts `size` bytes written to `path`; past `every_bytes`, calls `flush()` (the
        writer's buffer to the OS) and queues an fsync of `path`."""
        self._unsynced[path] += size
        if self._unsynced[path] >= self._every_bytes:
            flush()
            self.sync(path)

    def sync(self, path: str) -> None:
        """Queues an fsync of `path` (its temporary name's count is dropped: renamed into it)."""
        self._unsynced.pop(path, None)
        self._unsynced.pop(temporary_path(path), None)
        self._executor.submit(_fsync_if_present, path)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self._executor.shutdown(wait=True)


def _fsync_if_present(path: str) -> None:
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except FileNotFoundError:  # renamed since: the commit syncs it under its final name
        return
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)

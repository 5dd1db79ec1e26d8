"""The run directory: its lock, its recorded config and atomic JSON writes.

    run_dir/
      config.json        the ExperimentConfig, corpus, classes and fold speakers (written first)
      flags.txt          the resolved absl flags (written by the CLI)
      checkpoints/latest the last finished epochs (resume point)
      checkpoints/best   the epoch with the best validation UA (model selection)
      tensorboard/       summaries
      results.json       final metrics (written last, atomically)
      export/<version>/  the SavedModel for TF Serving
"""

import json
import os

LOCK_NAME = ".lock"


class RunDirError(RuntimeError):
    """The run directory cannot be used; the message says why and what to do."""


def write_json(path: str, value) -> None:
    """Writes JSON atomically: a temp file in the same directory, then os.replace."""
    temp = f"{path}.tmp-{os.getpid()}"
    with open(temp, "w", encoding="utf-8") as handle:
        json.dump(value, handle, indent=2, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temp, path)


def read_json(path: str):
    """Reads a JSON file written by `write_json`."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def process_alive(pid: int) -> bool:
    """True when a process with this pid exists (used to tell stale locks and staging folders)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """An exclusive lock on a run directory, held for the life of a run (a context manager).

    A second run pointed at the same directory is refused while the first process lives; a
    lock left by a killed process is taken over.
    """

    def __init__(self, run_dir: str):
        self.path = os.path.join(run_dir, LOCK_NAME)

    def __enter__(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        for _ in range(2):
            try:
                descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                try:
                    with open(self.path, encoding="utf-8") as handle:
                        owner = int(handle.read().strip() or 0)
                except (OSError, ValueError):
                    owner = 0
                if owner and process_alive(owner) and owner != os.getpid():
                    raise RunDirError(
                        f"{os.path.dirname(self.path)} is in use by another run (pid {owner}). "
                        f"Wait for it to finish, or choose another --run_dir.") from None
                os.remove(self.path)  # stale: its process is gone
                continue
            with os.fdopen(descriptor, "w") as handle:
                handle.write(str(os.getpid()))
            return self
        raise RunDirError(f"could not take the lock {self.path}")

    def __exit__(self, *exc_info):
        try:
            os.remove(self.path)
        except FileNotFoundError:
            pass
        return False

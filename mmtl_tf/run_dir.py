"""The run directory: its lock, its recorded config, its checkpoints, and atomic JSON writes.

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

import tensorflow as tf

from mmtl_tf import algorithms
from mmtl_tf import config as config_lib

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


def record_config(experiment, manifest, split):
    """Writes run_dir/config.json, or checks that a resumed run has the same settings.

    Returns:
      The record: the experiment, corpus, class names and the fold's speakers.

    Raises:
      RunDirError: run_dir holds a run with other settings (run_dir, export and the
        distribution strategy may differ: they do not change the result).
    """
    record = {"experiment": experiment.to_dict(), "corpus": manifest["corpus"],
              "class_names": manifest["class_names"], "train_speakers": list(split.train),
              "val_speaker": split.validation, "test_speaker": split.test}
    path = os.path.join(experiment.run_dir, "config.json")
    if os.path.exists(path):
        stored = read_json(path)
        differences = config_lib.describe_mismatch(
            flatten_record(record), flatten_record(stored))
        if differences:
            raise RunDirError(
                f"{experiment.run_dir} holds a run with other settings ({'; '.join(differences)}); "
                f"resume it with its own settings or choose another --run_dir")
    else:
        write_json(path, record)
    return record


def flatten_record(record, prefix=""):
    """Flattens nested dicts to {"a.b": value}, leaving out fields a resumed run may change."""
    flat = {}
    for key, value in record.items():
        if isinstance(value, dict):
            flat.update(flatten_record(value, f"{prefix}{key}."))
        elif not key.endswith(("run_dir", "export", "strategy", "num_cpu_devices")):
            flat[f"{prefix}{key}"] = value
    return flat


def network_trackables(algorithm) -> dict:
    """Checkpoint dependencies holding every network variable, keyed by its position.

    Keras 3 models handed to tf.train.Checkpoint do not contribute their variables under their
    own names, and Keras numbers layer names per process (`lstm_1`, `seed_generator_3`), so each
    network becomes a Checkpoint of its variables keyed by index in `model.variables` (fixed by
    the architecture): restoring works in any process and fails loudly if one is missing.
    """
    return {name: tf.train.Checkpoint(**{f"v{index:03d}": v for index, v in enumerate(model.variables)})
            for name, model in algorithm.networks().items()}


def experiment_from_record(record: dict) -> config_lib.ExperimentConfig:
    """Rebuilds the ExperimentConfig stored in a run's config.json."""
    stored = dict(record["experiment"])
    model = dict(stored.pop("model"))
    model["conv_filters"] = tuple(model["conv_filters"])
    model["conv_kernels"] = tuple(tuple(k) for k in model["conv_kernels"])
    train = dict(stored.pop("train"))
    train["aux_tasks"] = tuple(train["aux_tasks"])
    return config_lib.ExperimentConfig(
        features=config_lib.FeatureConfig(**stored.pop("features")),
        model=config_lib.ModelConfig(**model), train=config_lib.TrainConfig(**train), **stored)


def load_trained(run_dir: str):
    """Rebuilds a finished (or interrupted) run's algorithm with its selected weights.

    The `best` checkpoint (best validation UA) is restored; a run with none yet falls back to
    its `latest` checkpoint.

    Args:
      run_dir: a directory written by `train_and_evaluate`.

    Returns:
      (algorithm, record): the algorithm with restored weights, and config.json's dict
      (experiment, corpus, class_names, speakers).

    Raises:
      RunDirError: not a run directory, or no checkpoint in it.
    """
    path = os.path.join(run_dir, "config.json")
    if not os.path.isfile(path):
        raise RunDirError(f"{run_dir} is not a run directory (no config.json); "
                                      f"pass the --run_dir of a `python -m mmtl_tf.main` run")
    record = read_json(path)
    experiment = experiment_from_record(record)
    algorithm = algorithms.build_algorithm(experiment.model, experiment.train, len(record["class_names"]))
    checkpoint = tf.train.Checkpoint(**network_trackables(algorithm))
    for kind in ("best", "latest"):
        found = tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints", kind))
        if found:
            checkpoint.restore(found).expect_partial().assert_existing_objects_matched()
            return algorithm, record
    raise RunDirError(f"{run_dir} has no checkpoint yet; train it first")

"""The run directory: its lock and its recorded configuration (config.json).

    run_dir/
      .lock              flocked by the process training in it (`RunLock`; stays, empty, after)
      config.json        the ExperimentConfig, corpus, classes and fold speakers (written first)
      flags.txt          the resolved absl flags (written by the CLI)
      checkpoints/       latest and best (see `checkpoints`)
      tensorboard/       summaries
      results.json       final metrics (written last, atomically)
      export/<version>/  the SavedModel for TF Serving (see `export`)

A resumed run must have the settings config.json records (`record_config`). Rebuilding a
trained model from a run directory is `trained_model.load_trained`; atomic writes are
`atomic_files`.
"""

import os

from mmtl_tf import atomic_files
from mmtl_tf import config as config_lib
from mmtl_tf import directory_lock
from mmtl_tf import folds

CONFIG_NAME = "config.json"
# Settings a resumed run may change: they do not change its result.
_MAY_DIFFER = ("run_dir", "export", "strategy", "num_cpu_devices", "parallel_speakers",
               "parallel_episode_reads")
# The experiment fields that decide a fold's results: a finished fold recording the same ones is
# not trained again (`experiments.is_finished`), and reports pool only runs that share them
# (`report_variants`).
RESULT_SETTINGS = ("features", "model", "train", "tfrecord_dir", "fold", "val_speaker", "preset",
                   "skip_nonfinite")
DATA_KEY = "speaker_digests"  # the fold's speakers' digests of their prepared data


class RunDirError(RuntimeError):
    """The run directory cannot be used; the message says why and what to do."""


class RunLock(directory_lock.DirectoryLock):
    """An exclusive lock on a run directory, held for the life of a run (a context manager).

    A second run pointed at the same directory is refused with `RunDirError` while the first
    process lives; a killed process' lock is free at once (see `directory_lock`).
    """

    error = RunDirError

    def __init__(self, run_dir: str):
        super().__init__(run_dir, user="run", flag="--run_dir")


def config_record(experiment, manifest: dict, split) -> dict:
    """The config.json record of a run: experiment, corpus, class names, the fold's speakers and
    the digests of their prepared data (`preparation` puts one in each manifest entry; None in
    a manifest from before that, or one without the speaker, as the benchmark's stand-in run).

    Args:
      experiment: the `config.ExperimentConfig`.
      manifest: the prepared corpus' manifest (corpus name, class names, speakers).
      split: the fold's speakers (`folds.fold_split`).
    """
    speakers = split.train + (split.validation,) + tuple(split.test)
    return {"experiment": experiment.to_dict(), "corpus": manifest["corpus"],
            "class_names": manifest["class_names"], "train_speakers": list(split.train),
            "val_speaker": split.validation, "test_speaker": folds.test_speaker_field(split),
            DATA_KEY: {speaker: manifest.get("speakers", {}).get(speaker, {}).get("digest")
                       for speaker in speakers}}


def _changed_speakers(requested: dict, stored: dict) -> list:
    """Speakers whose data digest differs between two records (unrecorded ones are not compared:
    runs and manifests from before digests were recorded still resume)."""
    return sorted(speaker for speaker, digest in requested.items()
                  if digest and stored.get(speaker) and stored[speaker] != digest)


def check_same_settings(run_dir: str, record: dict) -> None:
    """Refuses to resume a run directory whose config.json records other settings.

    Nothing is written. A directory without config.json passes (a new run), unless it holds
    checkpoints, which would be resumed with settings nobody recorded.

    Raises:
      RunDirError: run_dir holds a run with other settings (run_dir, export, the
        distribution strategy, --parallel_speakers and --parallel_episode_reads may differ:
        they do not change the result), or one whose speakers' data was prepared again since.
    """
    path = os.path.join(run_dir, CONFIG_NAME)
    if not os.path.exists(path):
        if has_checkpoints(run_dir):  # (a config.json deleted as damaged, say)
            raise RunDirError(f"{run_dir} holds checkpoints but no {CONFIG_NAME}, so the settings "
                              f"they were trained with are unknown; pass --rerun to train anew "
                              f"there, or choose another --run_dir")
        return
    stored = atomic_files.read_json(path)
    changed = _changed_speakers(record.get(DATA_KEY, {}), stored.get(DATA_KEY) or {})
    if changed:
        raise RunDirError(f"{run_dir} holds a run trained on other data: speaker(s) "
                          f"{', '.join(changed)} were prepared again since it started (other "
                          f"audio, labels or settings in {record['experiment']['tfrecord_dir']}); "
                          f"pass --rerun to train it again on the current data, or choose "
                          f"another --run_dir")
    differences = config_lib.describe_mismatch(
        flatten_record({key: value for key, value in record.items() if key != DATA_KEY}),
        flatten_record({key: value for key, value in stored.items() if key != DATA_KEY}))
    if differences:
        raise RunDirError(f"{run_dir} holds a run with other settings ({'; '.join(differences)}); "
                          f"resume it with its own settings or choose another --run_dir")


def has_checkpoints(run_dir: str) -> bool:
    """Whether run_dir/checkpoints holds a checkpoint a run would restore (`checkpoints`)."""
    folder = os.path.join(run_dir, "checkpoints")
    return os.path.isdir(folder) and any(
        name == "checkpoint" for _, _, names in os.walk(folder) for name in names)


def record_config(experiment, manifest: dict, split) -> dict:
    """Writes run_dir/config.json, or checks that a resumed run has the same settings.

    Returns:
      The record (see `config_record`).

    Raises:
      RunDirError: see `check_same_settings`.
    """
    record = config_record(experiment, manifest, split)
    check_same_settings(experiment.run_dir, record)
    path = os.path.join(experiment.run_dir, CONFIG_NAME)
    if not os.path.exists(path):
        atomic_files.write_json(path, record)
    return record


def flatten_record(record: dict, prefix: str = "") -> dict:
    """Flattens nested dicts to {"a.b": value}, leaving out fields a resumed run may change."""
    flat = {}
    for key, value in record.items():
        if isinstance(value, dict):
            flat.update(flatten_record(value, f"{prefix}{key}."))
        elif not key.endswith(_MAY_DIFFER):
            flat[f"{prefix}{key}"] = value
    return flat


def read_record(run_dir: str) -> dict:
    """Reads a run directory's config.json.

    Raises:
      RunDirError: no config.json (not a run directory), or a damaged one; the message names it.
    """
    path = os.path.join(run_dir, CONFIG_NAME)
    if not os.path.isfile(path):
        raise RunDirError(f"{run_dir} is not a run directory (no {CONFIG_NAME}); "
                          f"pass the --run_dir of a `python -m mmtl_tf.main` run")
    try:
        return atomic_files.read_json(path)
    except (OSError, ValueError) as error:
        raise RunDirError(str(error)) from None


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


def read_experiment(run_dir: str):
    """Reads a run directory's config.json and rebuilds its ExperimentConfig.

    Returns:
      (record, experiment): config.json's dict and the `config.ExperimentConfig` it records.

    Raises:
      RunDirError: not a run directory, or a config.json this version of mmtl_tf cannot read
        (the message names the file and the field).
    """
    record = read_record(run_dir)
    try:
        missing = [key for key in ("experiment", "corpus", "class_names") if key not in record]
        if missing:
            raise KeyError(f"missing {', '.join(missing)}")
        return record, experiment_from_record(record)
    except (KeyError, TypeError, ValueError) as error:
        raise RunDirError(f"{os.path.join(run_dir, CONFIG_NAME)}: not a config.json this version "
                          f"of mmtl_tf can read ({type(error).__name__}: {error}); train the run "
                          f"again with this version") from None

"""SavedModel export for TF Serving: waveform in, emotion posteriors out.

`export_run` turns a trained run directory into a versioned SavedModel, `export_dir/<version>/`,
the layout TF Serving polls (keras-io's `tf_serving` recipe; Model Garden's `serving/`; the
layout and metadata names are in `export_format`). The steps:

1. `trained_model.load_trained` rebuilds the algorithm with the selected (`best`) checkpoint.
2. A `tf.Module` (`serving.ServingModule`) holds the `tf.Variable`s behind the algorithm's
   Keras weights, so they are saved where TF Serving's loader restores them (see `serving`),
   and three `tf.function` signatures close over them:
   - `serving_default`: `waveform` float32 [batch, samples] (mono at the model's sample rate,
     16 kHz by default, zero padded) and `num_samples` int32 [batch] -> `probabilities`
     float32 [batch, classes], `class_index` int64 [batch], `class_name` string [batch]. Inside
     the graph: `features.waveform_features` (the very function that prepared the training
     data: segments of <= 3 s, log spectrogram, normalisation), the algorithm's
     `emotion_logits`, a softmax per segment, and the mean of the segment posteriors of each
     utterance (`tf.math.unsorted_segment_mean`), as evaluation averages them (paper 3.1.2).
     The network runs over `serving.CHUNK_SEGMENTS` segments at a time, so memory does not
     grow with audio length. A row with fewer valid samples than one analysis window fails
     with an InvalidArgumentError naming `num_samples` and the minimum.
   - `spectrogram`: `spectrogram` float32 [segments, max_frames, num_bins] -> per-segment
     `probabilities`, for callers that compute features themselves.
   - `metadata`: no input -> constants a client needs before sending audio: `sample_rate_hz`,
     `class_names`, `corpus`, `segment_seconds`, `min_clip_seconds` (shorter clips are too
     short to judge, `export_format.min_clip_seconds`) and `feature_config_json`.
     `saved_model_cli show` lists these outputs; `tf.saved_model.load(dir).signatures[
     "metadata"]()` gives their values (`saved_model_cli run` wants an input, so it cannot).
3. The same facts travel as the asset `mmtl_metadata.json` (readable without TensorFlow, with
   the experiment config too), as string variables on the module (`class_names`, `corpus`,
   `feature_config_json`, `experiment_json`, which `predict` reads), and, when the run has
   one, the CLI's `flags.txt` as an asset. A run without results.json (stopped before the end)
   is still exported, with a `warning:` line naming the step reached and the planned steps,
   and `training` in the metadata says so (`training_status`).
4. The SavedModel is written to a hidden temporary directory beside the target and renamed into
   place, so a killed export never leaves a version directory that looks complete (TF Serving
   only loads directories named by an integer).

`python -m mmtl_tf.export --run_dir=RUN` runs the export CLI (`mmtl_tf.export_cli`, through
this package's `__main__`).
"""

import os
import re
import shutil
import tempfile

import tensorflow as tf

from mmtl_tf import atomic_files, checkpoints, directory_lock, export_format, results_file
from mmtl_tf import run_dir as run_dir_lib
from mmtl_tf import trained_model
from mmtl_tf.export.serving import CHUNK_SEGMENTS, ServingModule  # noqa: F401
from mmtl_tf.export_format import METADATA_NAME, ExportError, existing_versions  # noqa: F401

_STEP_KEY = "step/.ATTRIBUTES/VARIABLE_VALUE"  # the step counter in training's checkpoints


def export_metadata(record: dict, training: dict = None) -> dict:
    """The contents of assets/mmtl_metadata.json for a run's config.json record.

    Args:
      record: config.json's dict.
      training: `training_status` of the run, stored as `training` when given.

    Returns:
      dict with corpus, class_names, sample_rate_hz, segment_seconds, min_clip_seconds,
      feature_config, experiment, signatures (what each signature takes and gives) and
      training.
    """
    features_config = run_dir_lib.experiment_from_record(record).features
    return {"corpus": record["corpus"], "class_names": list(record["class_names"]),
            "sample_rate_hz": features_config.sample_rate,
            "segment_seconds": features_config.segment_seconds,
            "min_clip_seconds": export_format.min_clip_seconds(features_config),
            "feature_config": features_config.to_dict(), "experiment": record["experiment"],
            "signatures": dict(export_format.SIGNATURES), "training": training}


def _checkpoint_step(run_dir: str, kind: str):
    """The step counter stored in a run's `kind` checkpoint, or None when there is none."""
    path = tf.train.latest_checkpoint(checkpoints.checkpoint_dir(run_dir, kind))
    if not path:
        return None
    try:
        return int(tf.train.load_variable(path, _STEP_KEY))
    except (tf.errors.OpError, ValueError):
        return None


def _planned_steps(record: dict):
    """The outer steps the run was set to train: --train_steps, or its epochs over the
    prepared data (None when that data cannot be read any more)."""
    from mmtl_tf import episode_plan, schedule, tfrecords  # pylint: disable=import-outside-toplevel

    experiment = run_dir_lib.experiment_from_record(record)
    train = experiment.train
    if train.train_steps:
        return train.train_steps
    try:
        manifest = tfrecords.load_manifest(experiment.tfrecord_dir, experiment.features)
        per_epoch = episode_plan.steps_per_epoch(manifest, record["train_speakers"],
                                                 train.segments_per_speaker)
    except (OSError, ValueError, KeyError):
        return None
    return schedule.make_schedule(0, train.eval_every, train.epochs, per_epoch).total_steps


def training_status(run_dir: str, record: dict) -> dict:
    """How far the run's training got, for the export's metadata and its warning.

    Returns:
      dict: `finished` (results.json exists: training and the test ran to the end),
      `step_reached` (the latest checkpoint's step), `exported_step` (the step of the
      checkpoint exported: `best`, else `latest`) and `planned_steps` (None if unknown).
    """
    return {"finished": os.path.isfile(os.path.join(run_dir, results_file.RESULTS_NAME)),
            "step_reached": _checkpoint_step(run_dir, checkpoints.LATEST),
            "exported_step": (_checkpoint_step(run_dir, checkpoints.BEST)
                              or _checkpoint_step(run_dir, checkpoints.LATEST)),
            "planned_steps": _planned_steps(record)}


def unfinished_warning(run_dir: str, status: dict) -> str:
    """The `warning:` line for exporting a run that did not finish ("" when it finished)."""
    if status["finished"]:
        return ""
    planned, reached = status["planned_steps"], status["step_reached"]
    where = (f"stopped at step {reached} of {planned if planned else 'an unknown number of'} "
             f"planned steps" if reached != planned else
             f"reached its {planned} planned steps, but the run ended before its test")
    return (f"warning: {run_dir} has no {results_file.RESULTS_NAME}: training {where}, so this "
            f"model (the checkpoint of step {status['exported_step']}) is from an unfinished "
            f"run; resume it with the same --run_dir to finish it")


def export_run(run_dir: str, export_dir: str = None, version: int = None,
               overwrite: bool = False, chunk_segments: int = CHUNK_SEGMENTS) -> str:
    """Exports a run's selected checkpoint as a TF Serving SavedModel (see the module docstring).

    Args:
      run_dir: a directory written by `training.train_and_evaluate`.
      export_dir: the model base path TF Serving watches; default `run_dir/export`.
      version: the version directory to write (a positive integer); default one more than the
        highest existing version, or 1.
      overwrite: replace an existing version directory instead of refusing.
      chunk_segments: segments per network call inside the signatures (bounds their memory).

    Returns:
      The path of the written version directory, `export_dir/<version>`.

    Raises:
      run_dir.RunDirError: `run_dir` is not a run directory or has no checkpoint.
      ExportError: a bad version, or the version exists and `overwrite` is False.
    """
    export_dir = export_dir or os.path.join(run_dir, "export")
    if version is None:
        version = (existing_versions(export_dir) or [0])[-1] + 1
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ExportError(f"export version {version!r} must be a positive integer "
                          f"(TF Serving loads directories named 1, 2, ...)")
    target = os.path.join(export_dir, str(version))
    if os.path.exists(target) and not overwrite:
        raise ExportError(f"{target} already exists; pass --overwrite to replace it, or a new "
                          f"--version (default: the next free one)")
    algorithm, record = trained_model.load_trained(run_dir)
    status = training_status(run_dir, record)
    if not status["finished"]:
        print(unfinished_warning(run_dir, status), flush=True)
    metadata = export_metadata(record, status)
    os.makedirs(export_dir, exist_ok=True)
    _remove_abandoned_staging(export_dir)
    staging = tempfile.mkdtemp(prefix=f".export-{os.getpid()}-", dir=export_dir)
    try:
        metadata_path = os.path.join(staging, "metadata", METADATA_NAME)
        os.makedirs(os.path.dirname(metadata_path))
        atomic_files.write_json(metadata_path, metadata)
        flags_path = os.path.join(run_dir, export_format.FLAGS_NAME)
        module = ServingModule(algorithm, record, metadata, metadata_path,
                               flags_path if os.path.isfile(flags_path) else None,
                               chunk_segments=chunk_segments)
        saved = os.path.join(staging, "saved_model")
        tf.saved_model.save(module, saved, signatures=module.signatures())
        _replace_directory(saved, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _remove_abandoned_staging(export_dir: str) -> None:
    """Deletes `.export-<pid>-*` / `.retired-<pid>-*` folders left by a killed export (dead pid)."""
    for name in os.listdir(export_dir):
        match = re.fullmatch(r"\.(?:export|retired)-(\d+)-.*", name)
        if match and not directory_lock.process_alive(int(match.group(1))):
            shutil.rmtree(os.path.join(export_dir, name), ignore_errors=True)


def _replace_directory(source: str, target: str) -> None:
    """Renames `source` to `target`; an existing `target` is moved aside first, then removed."""
    if os.path.exists(target):
        retired = tempfile.mkdtemp(prefix=f".retired-{os.getpid()}-",
                                   dir=os.path.dirname(target))
        os.rename(target, os.path.join(retired, "old"))
        os.rename(source, target)
        shutil.rmtree(retired, ignore_errors=True)
    else:
        os.rename(source, target)

"""SavedModel export for TF Serving: waveform in, emotion posteriors out.

`export_run` turns a trained run directory into a versioned SavedModel, `export_dir/<version>/`,
the layout TF Serving polls (keras-io's `tf_serving` recipe; Model Garden's `serving/`). The
steps:

1. `run_dir.load_trained` rebuilds the algorithm with the selected (`best`) checkpoint.
2. A `tf.Module` holds the algorithm's Keras networks, so their variables are tracked and
   saved, and two `tf.function` signatures close over them:
   - `serving_default`: `waveform` float32 [batch, samples] (16 kHz mono, zero padded) and
     `num_samples` int32 [batch] -> `probabilities` float32 [batch, classes], `class_index`
     int64 [batch], `class_name` string [batch]. Inside the graph: `features.waveform_features`
     (the very function that prepared the training data: segments of <= 3 s, log spectrogram,
     normalisation), the algorithm's `emotion_logits`, a softmax per segment, and the mean of
     the segment posteriors of each utterance (`tf.math.unsorted_segment_mean`), as evaluation
     averages them (paper section 3.1.2).
   - `spectrogram`: `spectrogram` float32 [segments, max_frames, num_bins] -> per-segment
     `probabilities`, for callers that compute features themselves.
3. What a client needs to read the outputs travels with the model: string variables
   `class_names`, `corpus`, `feature_config_json` and `experiment_json` on the module, and the
   assets `mmtl_metadata.json` (corpus, class names, feature config, experiment config) and,
   when the run has one, the CLI's `flags.txt`.
4. The SavedModel is written to a hidden temporary directory beside the target and renamed into
   place, so a killed export never leaves a version directory that looks complete (TF Serving
   only loads directories named by an integer).

`serving_real_time_factor` times the `serving_default` signature of an export (seconds of
compute per second of audio). The module also runs the export CLI:
`python -m mmtl_tf.export --run_dir=RUN` (flags in `mmtl_tf.export_cli`).
"""

import json
import os
import re
import shutil
import tempfile
import time

import numpy as np
import tensorflow as tf

from mmtl_tf import features
from mmtl_tf import run_dir as run_dir_lib

METADATA_NAME = "mmtl_metadata.json"
FLAGS_NAME = "flags.txt"
_VERSION = re.compile(r"^[0-9]+$")


class ExportError(run_dir_lib.RunDirError):
    """The export cannot be written or read; the message names the directory and what to do."""


class ServingModule(tf.Module):
    """The exported object: the trained networks, their metadata and the two signatures.

    Attributes:
      networks: dict name -> Keras model (the algorithm's `networks()`), tracked for saving.
      class_names: string variable [classes].
      corpus, feature_config_json, experiment_json: scalar string variables.
      metadata_file, flags_file: `tf.saved_model.Asset`s (`flags_file` only when given).
      serve_waveform, serve_spectrogram: the `tf.function`s behind the signatures.
    """

    def __init__(self, algorithm, record: dict, metadata_path: str, flags_path: str = None):
        super().__init__(name="mmtl_serving")
        experiment = run_dir_lib.experiment_from_record(record)
        self._algorithm = algorithm
        self._feature_config = experiment.features
        self.networks = dict(algorithm.networks())
        self.class_names = tf.Variable(list(record["class_names"]), trainable=False,
                                       name="class_names")
        self.corpus = tf.Variable(record["corpus"], trainable=False, name="corpus")
        self.feature_config_json = tf.Variable(
            json.dumps(experiment.features.to_dict(), sort_keys=True), trainable=False,
            name="feature_config_json")
        self.experiment_json = tf.Variable(
            json.dumps(record["experiment"], sort_keys=True), trainable=False,
            name="experiment_json")
        self.metadata_file = tf.saved_model.Asset(metadata_path)
        if flags_path:
            self.flags_file = tf.saved_model.Asset(flags_path)
        frames, bins = experiment.features.max_frames, experiment.features.num_bins
        self.serve_waveform = tf.function(self._serve_waveform, input_signature=[
            tf.TensorSpec([None, None], tf.float32, name="waveform"),
            tf.TensorSpec([None], tf.int32, name="num_samples")])
        self.serve_spectrogram = tf.function(self._serve_spectrogram, input_signature=[
            tf.TensorSpec([None, frames, bins], tf.float32, name="spectrogram")])

    def _segment_probabilities(self, spectrogram):
        """Softmax of the emotion logits, float32 [segments, classes]."""
        algorithm = self._algorithm
        logits = algorithm.emotion_logits(algorithm.meta_weights(), algorithm.head_weights(),
                                          spectrogram)
        return tf.nn.softmax(logits, axis=-1)

    def _serve_spectrogram(self, spectrogram):
        return {"probabilities": self._segment_probabilities(spectrogram)}

    def _serve_waveform(self, waveform, num_samples):
        batch = tf.shape(waveform)[0]
        # A length beyond the padded row (a client bug) is clipped rather than read out of range.
        num_samples = tf.clip_by_value(num_samples, 0, tf.shape(waveform)[1])
        segments = features.waveform_features(waveform, num_samples, self._feature_config)
        segment_probabilities = self._segment_probabilities(segments["spectrogram"])
        probabilities = tf.math.unsorted_segment_mean(
            segment_probabilities, segments["utterance_index"], num_segments=batch)
        class_index = tf.argmax(probabilities, axis=-1, output_type=tf.int64)
        return {"probabilities": probabilities, "class_index": class_index,
                "class_name": tf.gather(self.class_names, class_index)}

    def signatures(self) -> dict:
        """The concrete functions to save, keyed by signature name."""
        return {"serving_default": self.serve_waveform.get_concrete_function(),
                "spectrogram": self.serve_spectrogram.get_concrete_function()}


def existing_versions(export_dir: str) -> list:
    """Sorted integer versions that are directories of `export_dir` (empty when it is absent)."""
    if not os.path.isdir(export_dir):
        return []
    return sorted(int(name) for name in os.listdir(export_dir)
                  if _VERSION.match(name) and os.path.isdir(os.path.join(export_dir, name)))


def export_metadata(record: dict) -> dict:
    """The contents of assets/mmtl_metadata.json for a run's config.json record."""
    experiment = run_dir_lib.experiment_from_record(record)
    return {"corpus": record["corpus"], "class_names": list(record["class_names"]),
            "feature_config": experiment.features.to_dict(), "experiment": record["experiment"],
            "signatures": {"serving_default": "waveform, num_samples -> probabilities, "
                                              "class_index, class_name",
                           "spectrogram": "spectrogram -> probabilities"}}


def export_run(run_dir: str, export_dir: str = None, version: int = None,
               overwrite: bool = False) -> str:
    """Exports a run's selected checkpoint as a TF Serving SavedModel (see the module docstring).

    Args:
      run_dir: a directory written by `training.train_and_evaluate`.
      export_dir: the model base path TF Serving watches; default `run_dir/export`.
      version: the version directory to write (a positive integer); default one more than the
        highest existing version, or 1.
      overwrite: replace an existing version directory instead of refusing.

    Returns:
      The path of the written version directory, `export_dir/<version>`.

    Raises:
      run_dir_lib.RunDirError: `run_dir` is not a run directory or has no checkpoint.
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
    algorithm, record = run_dir_lib.load_trained(run_dir)
    os.makedirs(export_dir, exist_ok=True)
    _remove_abandoned_staging(export_dir)
    staging = tempfile.mkdtemp(prefix=f".export-{os.getpid()}-", dir=export_dir)
    try:
        metadata_path = os.path.join(staging, "metadata", METADATA_NAME)
        os.makedirs(os.path.dirname(metadata_path))
        run_dir_lib.write_json(metadata_path, export_metadata(record))
        flags_path = os.path.join(run_dir, FLAGS_NAME)
        module = ServingModule(algorithm, record, metadata_path,
                               flags_path if os.path.isfile(flags_path) else None)
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
        if match and not run_dir_lib.process_alive(int(match.group(1))):
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


def serving_real_time_factor(version_dir: str, batch_sizes=(1, 32), seconds: float = 3.0,
                             repeats: int = 3) -> dict:
    """Times `serving_default` on random audio: seconds of compute per second of audio.

    Args:
      version_dir: an export version directory (`export_dir/<version>`).
      batch_sizes: utterances per call to time.
      seconds: duration of each utterance.
      repeats: timed calls per batch size (after one untimed warm-up call); the fastest counts.

    Returns:
      dict batch size -> real-time factor (below 1 is faster than real time).
    """
    loaded = tf.saved_model.load(version_dir)
    serve = loaded.signatures["serving_default"]
    rate = json.loads(loaded.feature_config_json.numpy().decode("utf-8"))["sample_rate"]
    samples = int(round(seconds * rate))
    rng = np.random.default_rng(0)
    factors = {}
    for batch_size in batch_sizes:
        waveform = tf.constant(0.1 * rng.standard_normal((batch_size, samples)), tf.float32)
        num_samples = tf.fill([batch_size], samples)
        serve(waveform=waveform, num_samples=num_samples)
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            serve(waveform=waveform, num_samples=num_samples)["probabilities"].numpy()
            best = min(best, time.perf_counter() - started)
        factors[batch_size] = best / (batch_size * seconds)
    return factors


if __name__ == "__main__":
    from absl import flags  # pylint: disable=import-outside-toplevel
    from mmtl_tf import export_cli  # pylint: disable=import-outside-toplevel

    flags.adopt_module_key_flags(export_cli)  # so --help lists the export flags
    export_cli.run_main()

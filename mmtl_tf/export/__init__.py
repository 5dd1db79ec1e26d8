"""SavedModel export for TF Serving: waveform in, emotion posteriors out.

`export_run` turns a trained run directory into a versioned SavedModel, `export_dir/<version>/`,
the layout TF Serving polls (keras-io's `tf_serving` recipe; Model Garden's `serving/`; the
layout and metadata names are in `export_format`). The steps:

1. `trained_model.load_trained` rebuilds the algorithm with the selected (`best`) checkpoint.
2. A `tf.Module` holds the algorithm's Keras networks, so their variables are tracked and
   saved, and three `tf.function` signatures close over them:
   - `serving_default`: `waveform` float32 [batch, samples] (mono at the model's sample rate,
     16 kHz by default, zero padded) and `num_samples` int32 [batch] -> `probabilities`
     float32 [batch, classes], `class_index` int64 [batch], `class_name` string [batch]. Inside
     the graph: `features.waveform_features` (the very function that prepared the training
     data: segments of <= 3 s, log spectrogram, normalisation), the algorithm's
     `emotion_logits`, a softmax per segment, and the mean of the segment posteriors of each
     utterance (`tf.math.unsorted_segment_mean`), as evaluation averages them (paper 3.1.2).
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
   one, the CLI's `flags.txt` as an asset.
4. The SavedModel is written to a hidden temporary directory beside the target and renamed into
   place, so a killed export never leaves a version directory that looks complete (TF Serving
   only loads directories named by an integer).

`python -m mmtl_tf.export --run_dir=RUN` runs the export CLI (`mmtl_tf.export_cli`, through
this package's `__main__`).
"""

import json
import os
import re
import shutil
import tempfile

import tensorflow as tf

from mmtl_tf import atomic_files, directory_lock, export_format, features, trained_model
from mmtl_tf import run_dir as run_dir_lib
from mmtl_tf.export_format import METADATA_NAME, ExportError, existing_versions  # noqa: F401


class ServingModule(tf.Module):
    """The exported object: the trained networks, their metadata and the three signatures.

    Attributes:
      networks: dict name -> Keras model (the algorithm's `networks()`), tracked for saving.
      class_names: string variable [classes].
      corpus, feature_config_json, experiment_json: scalar string variables.
      metadata_file, flags_file: `tf.saved_model.Asset`s (`flags_file` only when given).
      serve_waveform, serve_spectrogram, serve_metadata: the `tf.function`s behind the
        signatures.
    """

    def __init__(self, algorithm, record: dict, metadata_path: str, flags_path: str = None):
        super().__init__(name="mmtl_serving")
        experiment = run_dir_lib.experiment_from_record(record)
        self._algorithm = algorithm
        # A JSON string: a dict attribute would be wrapped (and tracked) by tf.Module.
        self._metadata_json = json.dumps(export_metadata(record))
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
        # Plain graph code: no AutoGraph conversion to pay.
        self.serve_waveform = tf.function(self._serve_waveform, autograph=False, input_signature=[
            tf.TensorSpec([None, None], tf.float32, name="waveform"),
            tf.TensorSpec([None], tf.int32, name="num_samples")])
        spectrogram = tf.TensorSpec([None, frames, bins], tf.float32, name="spectrogram")
        self.serve_spectrogram = tf.function(self._serve_spectrogram, autograph=False,
                                             input_signature=[spectrogram])
        self.serve_metadata = tf.function(self._serve_metadata, autograph=False,
                                          input_signature=[])

    def _name_captured_variables(self, extra=()):
        """Captures the variables a signature reads under their own names, before any read.

        TensorFlow names every variable handle a function captures `resource` (the input name
        of the op reading it), and saving then renames them all with a log line per signature
        ("contains input name(s) resource with unsupported characters which will be
        renamed"). Captured first under unique names (`meta_w000`... for a network's weights;
        seed-generator states are left out: inference does not read them, and they are not
        saved), the handles keep readable names and nothing is logged.

        Args:
          extra: (name, tf.Variable) pairs of module variables the signature also reads.
        """
        graph = tf.compat.v1.get_default_graph()
        named = [(f"{network}_w{index:03d}", variable)
                 for network, model in self.networks.items()
                 for index, variable in enumerate(model.weights)]
        for name, variable in named + list(extra):
            graph.capture(variable.handle, name=name)

    def _segment_probabilities(self, spectrogram):
        """Softmax of the emotion logits, float32 [segments, classes]."""
        algorithm = self._algorithm
        logits = algorithm.emotion_logits(algorithm.meta_weights(), algorithm.head_weights(),
                                          spectrogram)
        return tf.nn.softmax(logits, axis=-1)

    def _serve_spectrogram(self, spectrogram):
        self._name_captured_variables()
        return {"probabilities": self._segment_probabilities(spectrogram)}

    def _serve_metadata(self):
        metadata = json.loads(self._metadata_json)
        return {"sample_rate_hz": tf.constant(metadata["sample_rate_hz"], tf.int32),
                "class_names": tf.constant(metadata["class_names"], tf.string),
                "corpus": tf.constant(metadata["corpus"], tf.string),
                "segment_seconds": tf.constant(metadata["segment_seconds"], tf.float32),
                "min_clip_seconds": tf.constant(metadata["min_clip_seconds"], tf.float32),
                "feature_config_json": tf.constant(
                    json.dumps(metadata["feature_config"], sort_keys=True), tf.string)}

    def _serve_waveform(self, waveform, num_samples):
        self._name_captured_variables(extra=[("class_names", self.class_names)])
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
                "spectrogram": self.serve_spectrogram.get_concrete_function(),
                "metadata": self.serve_metadata.get_concrete_function()}


def export_metadata(record: dict) -> dict:
    """The contents of assets/mmtl_metadata.json for a run's config.json record.

    Returns:
      dict with corpus, class_names, sample_rate_hz, segment_seconds, min_clip_seconds,
      feature_config, experiment and signatures (what each signature takes and gives).
    """
    features_config = run_dir_lib.experiment_from_record(record).features
    return {"corpus": record["corpus"], "class_names": list(record["class_names"]),
            "sample_rate_hz": features_config.sample_rate,
            "segment_seconds": features_config.segment_seconds,
            "min_clip_seconds": export_format.min_clip_seconds(features_config),
            "feature_config": features_config.to_dict(), "experiment": record["experiment"],
            "signatures": dict(export_format.SIGNATURES)}


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
    os.makedirs(export_dir, exist_ok=True)
    _remove_abandoned_staging(export_dir)
    staging = tempfile.mkdtemp(prefix=f".export-{os.getpid()}-", dir=export_dir)
    try:
        metadata_path = os.path.join(staging, "metadata", METADATA_NAME)
        os.makedirs(os.path.dirname(metadata_path))
        atomic_files.write_json(metadata_path, export_metadata(record))
        flags_path = os.path.join(run_dir, export_format.FLAGS_NAME)
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

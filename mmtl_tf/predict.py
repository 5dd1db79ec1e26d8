"""Emotion predictions for wav files from an exported SavedModel.

Usage:

    python -m mmtl_tf.predict --model_dir=runs/RUN/export a.wav b.wav
    python -m mmtl_tf.predict --model_dir=runs/RUN/export/3 --json a.wav

--model_dir is a version directory (`export_dir/<version>`) or an export directory holding
numbered versions, of which the highest is used. The steps:

1. The SavedModel is loaded with plain `tf.saved_model.load`; its stored feature config gives
   the sample rate and the analysis window, and its class names label the outputs.
2. Each file is read with `audio.read_wav` (any sample rate and channel count, converted to mono
   at the model's rate). A missing, non-wav, corrupt, empty or NaN-holding file, or audio
   shorter than one analysis window, gets an error line naming the file; the others go on.
3. The good files are zero-padded into batches and sent with their lengths to the
   `serving_default` signature, which segments each utterance (<= 3 s), scores the segments and
   averages their posteriors over the whole utterance.
4. A table (file, class, one probability column per class) or, with --json, one JSON document
   is printed; the exit status is 1 when any file (or the model) failed.
"""

import dataclasses
import json
import os
import re
import sys

from absl import app
from absl import flags

from mmtl_tf import cli_flags

cli_flags.define_once(flags.DEFINE_string, "model_dir", None,
                      "An export version directory, or an export directory of numbered versions "
                      "(the highest is used). Required.")
cli_flags.define_once(flags.DEFINE_boolean, "json", False, "Print JSON instead of a table.")
cli_flags.define_once(flags.DEFINE_integer, "batch_size", 16, "Files per serving call.")
for _name in ("model_dir", "json", "batch_size"):
    flags.declare_key_flag(_name)  # listed by --help (define_once defines them in cli_flags)
FLAGS = flags.FLAGS

_VERSION = re.compile(r"^[0-9]+$")
_SAVED_MODEL = "saved_model.pb"


class PredictError(ValueError):
    """The model directory cannot be used; the message names it and what to pass instead."""


def find_version_dir(model_dir: str) -> str:
    """Resolves --model_dir to a SavedModel directory.

    Args:
      model_dir: a version directory (holding saved_model.pb) or an export directory holding
        numbered version directories.

    Returns:
      `model_dir` itself, or its highest-numbered version that holds a saved_model.pb.

    Raises:
      PredictError: naming `model_dir`, when it is neither.
    """
    if not os.path.isdir(model_dir):
        raise PredictError(f"{model_dir}: model directory not found; pass an export directory "
                           f"(RUN/export) or one of its version directories")
    if os.path.isfile(os.path.join(model_dir, _SAVED_MODEL)):
        return model_dir
    versions = sorted(int(name) for name in os.listdir(model_dir)
                      if _VERSION.match(name)
                      and os.path.isfile(os.path.join(model_dir, name, _SAVED_MODEL)))
    if not versions:
        raise PredictError(f"{model_dir} is not an export: it holds no {_SAVED_MODEL} and no "
                           f"numbered version directory; export a run with "
                           f"`python -m mmtl_tf.export --run_dir=RUN`")
    return os.path.join(model_dir, str(versions[-1]))


def load_export(model_dir: str):
    """Loads an mmtl_tf export.

    Args:
      model_dir: see `find_version_dir`.

    Returns:
      (version_dir, model, metadata): `model` is the loaded SavedModel (keep it alive while
      calling `model.signatures["serving_default"]`: its variables belong to it); metadata
      holds `class_names` (list of str), `corpus` (str) and `feature_config`
      (`config.FeatureConfig`).

    Raises:
      PredictError: not an export, an unreadable SavedModel, or one not written by
        `mmtl_tf.export` (no stored feature config).
    """
    version_dir = find_version_dir(model_dir)
    import tensorflow as tf  # pylint: disable=import-outside-toplevel (keeps --help fast)
    from mmtl_tf import config as config_lib  # pylint: disable=import-outside-toplevel

    try:
        loaded = tf.saved_model.load(version_dir)
    except (OSError, ValueError, tf.errors.OpError) as error:
        text = str(error).strip()
        first_line = text.splitlines()[0] if text else type(error).__name__
        raise PredictError(f"{version_dir}: cannot load the SavedModel ({first_line})") from None
    if ("serving_default" not in loaded.signatures
            or not hasattr(loaded, "feature_config_json") or not hasattr(loaded, "class_names")):
        raise PredictError(f"{version_dir} is a SavedModel but not an mmtl_tf export (no "
                           f"serving_default signature with stored class names and feature "
                           f"config); export it with `python -m mmtl_tf.export`")
    stored = json.loads(loaded.feature_config_json.numpy().decode("utf-8"))
    known = {field.name for field in dataclasses.fields(config_lib.FeatureConfig)}
    metadata = {
        "class_names": [name.decode("utf-8") for name in loaded.class_names.numpy()],
        "corpus": loaded.corpus.numpy().decode("utf-8"),
        "feature_config": config_lib.FeatureConfig(
            **{key: value for key, value in stored.items() if key in known}),
    }
    return version_dir, loaded, metadata


def read_audio(paths, feature_config):
    """Reads wav files for the model, keeping going past bad ones.

    Args:
      paths: wav file paths.
      feature_config: the model's `config.FeatureConfig` (sample rate, window length).

    Returns:
      (waveforms, errors): dict path -> float32 [samples] at the model's rate, and dict
      path -> message naming the file, for the files that cannot be used.
    """
    from mmtl_tf import audio  # pylint: disable=import-outside-toplevel

    waveforms, errors = {}, {}
    for path in paths:
        if not os.path.isfile(path):
            errors[path] = f"{path}: file not found"
            continue
        try:
            waveform = audio.read_wav(path, feature_config.sample_rate)
        except audio.AudioError as error:
            errors[path] = str(error)
            continue
        if len(waveform) < feature_config.window_samples:
            errors[path] = (f"{path}: {len(waveform) / feature_config.sample_rate:.3f} s of audio "
                            f"is shorter than one analysis window ({feature_config.window_ms} ms)")
            continue
        waveforms[path] = waveform
    return waveforms, errors


def predict_waveforms(model, waveforms, batch_size: int = 16) -> dict:
    """Runs `serving_default` over waveforms, zero-padded into batches.

    Args:
      model: the loaded export (see `load_export`).
      waveforms: list of float32 [samples] arrays at the model's sample rate.
      batch_size: waveforms per call.

    Returns:
      dict of numpy arrays over all waveforms: `probabilities` [n, classes], `class_index` [n].
    """
    import numpy as np  # pylint: disable=import-outside-toplevel
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    if batch_size < 1:
        raise ValueError(f"--batch_size must be >= 1, got {batch_size}")
    serve = model.signatures["serving_default"]
    probabilities, class_index = [], []
    for start in range(0, len(waveforms), batch_size):
        chunk = waveforms[start:start + batch_size]
        lengths = np.array([len(waveform) for waveform in chunk], np.int32)
        batch = np.zeros((len(chunk), int(lengths.max())), np.float32)
        for row, waveform in enumerate(chunk):
            batch[row, :len(waveform)] = waveform
        outputs = serve(waveform=tf.constant(batch), num_samples=tf.constant(lengths))
        probabilities.append(outputs["probabilities"].numpy())
        class_index.append(outputs["class_index"].numpy())
    if not probabilities:
        return {"probabilities": np.zeros((0, 0), np.float32),
                "class_index": np.zeros((0,), np.int64)}
    return {"probabilities": np.concatenate(probabilities),
            "class_index": np.concatenate(class_index)}


def predict_files(model_dir: str, paths, batch_size: int = 16) -> dict:
    """Predicts the emotion of each wav file (the library form of the CLI).

    Returns:
      dict with `model_dir` (the version directory), `corpus`, `class_names`, `results` (one
      dict per good file, in input order: `file`, `class_name`, `class_index`, `probabilities`
      {class name: probability}) and `errors` (one dict per bad file: `file`, `error`).

    Raises:
      PredictError: the model directory is not a usable export.
    """
    version_dir, model, metadata = load_export(model_dir)
    class_names = metadata["class_names"]
    waveforms, errors = read_audio(paths, metadata["feature_config"])
    good = [path for path in paths if path in waveforms]
    outputs = predict_waveforms(model, [waveforms[path] for path in good], batch_size)
    results = []
    for row, path in enumerate(good):
        index = int(outputs["class_index"][row])
        results.append({"file": path, "class_name": class_names[index], "class_index": index,
                        "probabilities": {name: float(value) for name, value
                                          in zip(class_names, outputs["probabilities"][row])}})
    return {"model_dir": version_dir, "corpus": metadata["corpus"], "class_names": class_names,
            "results": results,
            "errors": [{"file": path, "error": errors[path]} for path in paths if path in errors]}


def format_table(prediction: dict) -> str:
    """The `predict_files` output as an aligned text table (file, class, probabilities)."""
    names = prediction["class_names"]
    width = max([len("file")] + [len(result["file"]) for result in prediction["results"]])
    class_width = max([len("class")] + [len(name) for name in names])
    columns = [max(len(name), 6) for name in names]
    lines = [f"# model {prediction['model_dir']} (trained on corpus: {prediction['corpus']})",
             "  ".join([f"{'file':<{width}}", f"{'class':<{class_width}}"]
                       + [f"{name:>{column}}" for name, column in zip(names, columns)])]
    for result in prediction["results"]:
        lines.append("  ".join(
            [f"{result['file']:<{width}}", f"{result['class_name']:<{class_width}}"]
            + [f"{result['probabilities'][name]:>{column}.4f}"
               for name, column in zip(names, columns)]))
    return "\n".join(lines)


def main(argv):
    """Predicts the files named on the command line; exit status 1 when any failed."""
    paths = argv[1:]
    if not FLAGS.model_dir:
        raise app.UsageError("--model_dir is required (an export directory or a version of it)")
    if not paths:
        raise app.UsageError("name at least one wav file: python -m mmtl_tf.predict "
                             "--model_dir=DIR a.wav b.wav")
    prediction = cli_flags.run_reporting_errors(
        lambda: predict_files(FLAGS.model_dir, paths, FLAGS.batch_size), (PredictError, ValueError, OSError))
    if FLAGS.json:
        print(json.dumps(prediction, indent=2))
    else:
        print(format_table(prediction))
    for failure in prediction["errors"]:
        print(f"error: {failure['error']}", file=sys.stderr)
    if prediction["errors"]:
        sys.exit(1)


if __name__ == "__main__":
    app.run(main)

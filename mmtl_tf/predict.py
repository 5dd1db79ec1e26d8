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
3. The good files are zero-padded into batches (`batches`: memory stays bounded) and sent with
   their lengths to `serving_default`, which segments each utterance (<= 3 s), scores the
   segments 64 at a time and averages their posteriors over the whole utterance.
4. A table (file, seconds, class, one probability column per class, note) or, with --json, one
   JSON document (the model's metadata, one result per file, the errors) is printed; the exit
   status is 1 when any file (or the model) failed.

A clip shorter than `export_format.min_clip_seconds` (a third of a segment: 1 s by default) is
still predicted, but marked as too short to judge: its posteriors are mostly the network's
answer to zero padding. A clip of digital silence (every sample 0) is marked too: its features
are all zeros, and its class is the network's answer to nothing.
"""

import dataclasses
import json
import os
import sys

from absl import app
from absl import flags

from mmtl_tf import cli_app, cli_flags, export_format

COMMAND = cli_flags.define_command(cli_flags.PREDICT)
FLAGS = flags.FLAGS

_MODEL_ATTRIBUTES = ("class_names", "corpus", "feature_config_json")


def read_metadata(loaded, version_dir: str) -> dict:
    """The metadata an mmtl_tf export stores on its module, checked.

    Args:
      loaded: the object `tf.saved_model.load` returned.
      version_dir: its directory, for messages.

    Returns:
      dict with `class_names` (list of str), `corpus` (str), `feature_config`
      (`config.FeatureConfig`), `sample_rate_hz` and `min_clip_seconds`.

    Raises:
      export_format.ExportError: naming `version_dir` and what is missing or unreadable, when
        the SavedModel was not written by `mmtl_tf.export`.
    """
    from mmtl_tf import config as config_lib  # pylint: disable=import-outside-toplevel

    missing = [name for name in _MODEL_ATTRIBUTES if not hasattr(loaded, name)]
    if "serving_default" not in loaded.signatures:
        missing.insert(0, "serving_default signature")
    if missing:
        raise export_format.ExportError(
            f"{version_dir} is a SavedModel but not an mmtl_tf export (it has no "
            f"{', '.join(missing)}); export a trained run with `python -m mmtl_tf.export "
            f"--run_dir=RUN` and pass that directory")
    try:
        stored = json.loads(loaded.feature_config_json.numpy().decode("utf-8"))
        known = {field.name for field in dataclasses.fields(config_lib.FeatureConfig)}
        feature_config = config_lib.FeatureConfig(
            **{key: value for key, value in stored.items() if key in known})
        class_names = [name.decode("utf-8") for name in loaded.class_names.numpy()]
        corpus = loaded.corpus.numpy().decode("utf-8")
    except (AttributeError, TypeError, ValueError) as error:
        raise export_format.ExportError(
            f"{version_dir}: its stored class names or feature config are damaged "
            f"({type(error).__name__}: {error}); export the run again") from None
    return {"class_names": class_names, "corpus": corpus, "feature_config": feature_config,
            "sample_rate_hz": feature_config.sample_rate,
            "min_clip_seconds": export_format.min_clip_seconds(feature_config)}


def load_export(model_dir: str):
    """Loads an mmtl_tf export.

    Args:
      model_dir: see `export_format.resolve_version_dir`.

    Returns:
      (version_dir, model, metadata): `model` is the loaded SavedModel (keep it alive while
      calling `model.signatures["serving_default"]`: its variables belong to it); metadata as
      `read_metadata` returns it.

    Raises:
      export_format.ExportError: not an export, an unreadable SavedModel, or one not written
        by `mmtl_tf.export`.
    """
    version_dir = export_format.resolve_version_dir(model_dir)
    import tensorflow as tf  # pylint: disable=import-outside-toplevel (keeps --help fast)

    try:
        loaded = tf.saved_model.load(version_dir)
    except (OSError, ValueError, tf.errors.OpError) as error:
        text = str(error).strip()
        first_line = text.splitlines()[0] if text else type(error).__name__
        raise export_format.ExportError(
            f"{version_dir}: cannot load the SavedModel ({first_line}); export the run "
            f"again") from None
    return version_dir, loaded, read_metadata(loaded, version_dir)


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
            errors[path] = (f"{path}: not a regular file (a directory or a device); name a wav "
                            f"file" if os.path.exists(path) else f"{path}: file not found")
            continue
        try:
            waveform = audio.read_wav(path, feature_config.sample_rate)
        except audio.AudioError as error:
            errors[path] = str(error)
            continue
        except OSError as error:  # e.g. no read permission: this file fails, the others go on
            errors[path] = f"{path}: cannot read ({error.strerror or error})"
            continue
        if len(waveform) < feature_config.window_samples:
            errors[path] = (f"{path}: {len(waveform) / feature_config.sample_rate:.3f} s of audio "
                            f"is shorter than one analysis window ({feature_config.window_ms} ms)")
            continue
        waveforms[path] = waveform
    return waveforms, errors


# Padded samples per serving call: the signature's network chunk of 3 s segments at 16 kHz
# (`predict_files` uses the model's own segment length).
MAX_BATCH_SAMPLES = export_format.CHUNK_SEGMENTS * 48000


def batches(lengths, batch_size: int, max_batch_samples: int = MAX_BATCH_SAMPLES) -> list:
    """(start, stop) ranges of consecutive waveforms per serving call, in order: at most
    `batch_size` waveforms and, zero padded to the longest, `max_batch_samples` samples (a
    longer waveform goes alone), so a request's padding and features stay bounded."""
    ranges, start, longest = [], 0, 0
    for index, length in enumerate(lengths):
        longest = max(longest, length)
        if index > start and (index - start >= batch_size
                              or (index - start + 1) * longest > max_batch_samples):
            ranges.append((start, index))
            start, longest = index, length
    return ranges + [(start, len(lengths))] if len(lengths) else []


def predict_waveforms(model, waveforms, batch_size: int = 16,
                      max_batch_samples: int = MAX_BATCH_SAMPLES) -> dict:
    """Runs `serving_default` over waveforms, zero-padded into bounded batches (`batches`).

    Args:
      model: the loaded export (see `load_export`).
      waveforms: list of float32 [samples] arrays at the model's sample rate.
      batch_size: waveforms per call at most.
      max_batch_samples: padded samples per call at most (a longer waveform goes alone).

    Returns:
      dict of numpy arrays over all waveforms: `probabilities` [n, classes], `class_index` [n].
    """
    import numpy as np  # pylint: disable=import-outside-toplevel
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    if batch_size < 1:
        raise ValueError(f"--batch_size must be >= 1, got {batch_size}")
    serve = model.signatures["serving_default"]
    probabilities, class_index = [], []
    for start, stop in batches([len(w) for w in waveforms], batch_size, max_batch_samples):
        chunk = waveforms[start:stop]
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
      dict with `model_dir` (the version directory); `metadata`: `corpus`, `class_names`,
      `sample_rate_hz` (what audio is converted to), `segment_seconds` and `min_clip_seconds`;
      `results`, one dict per good file in input order: `file`, `seconds`, `class_name`,
      `class_index`, `probabilities` {class name: probability}, `too_short` (shorter than
      `min_clip_seconds`: the class is not to be trusted) and `silent` (every sample 0); and
      `errors`, one dict per bad file: `file`, `error`.

    Raises:
      export_format.ExportError: the model directory is not a usable export.
    """
    version_dir, model, metadata = load_export(model_dir)
    class_names, feature_config = metadata["class_names"], metadata["feature_config"]
    waveforms, errors = read_audio(paths, feature_config)
    good = [path for path in paths if path in waveforms]
    outputs = predict_waveforms(model, [waveforms[path] for path in good], batch_size,
                                max_batch_samples=(export_format.CHUNK_SEGMENTS
                                                   * feature_config.segment_samples))
    results = []
    for row, path in enumerate(good):
        index = int(outputs["class_index"][row])
        seconds = len(waveforms[path]) / feature_config.sample_rate
        results.append({"file": path, "seconds": round(seconds, 3),
                        "class_name": class_names[index], "class_index": index,
                        "probabilities": {name: float(value) for name, value
                                          in zip(class_names, outputs["probabilities"][row])},
                        "too_short": seconds < metadata["min_clip_seconds"],
                        "silent": not waveforms[path].any()})
    return {"model_dir": version_dir,
            "metadata": {"corpus": metadata["corpus"], "class_names": class_names,
                         "sample_rate_hz": metadata["sample_rate_hz"],
                         "segment_seconds": feature_config.segment_seconds,
                         "min_clip_seconds": metadata["min_clip_seconds"]},
            "results": results,
            "errors": [{"file": path, "error": errors[path]} for path in paths if path in errors]}


def format_table(prediction: dict) -> str:
    """The `predict_files` output as an aligned text table.

    Two `#` lines name the model, its corpus, the sample rate audio is converted to and the
    shortest clip it judges; then one row per file: file, seconds, class, one probability
    column per class, and a note on clips too short to judge or digitally silent.
    """
    metadata = prediction["metadata"]
    names = metadata["class_names"]
    minimum = metadata["min_clip_seconds"]
    width = max([len("file")] + [len(result["file"]) for result in prediction["results"]])
    class_width = max([len("class")] + [len(name) for name in names])
    columns = [max(len(name), 6) for name in names]
    lines = [f"# model {prediction['model_dir']} (trained on corpus: {metadata['corpus']})",
             f"# audio is converted to {metadata['sample_rate_hz']} Hz mono; clips shorter "
             f"than {minimum:.2f} s are too short to judge",
             "  ".join([f"{'file':<{width}}", f"{'seconds':>7}", f"{'class':<{class_width}}"]
                       + [f"{name:>{column}}" for name, column in zip(names, columns)]
                       + ["note"])]
    for result in prediction["results"]:
        note = "; ".join(([f"too short to judge (< {minimum:.2f} s)"] if result["too_short"]
                          else []) + (["digital silence"] if result.get("silent") else []))
        lines.append("  ".join(
            [f"{result['file']:<{width}}", f"{result['seconds']:>7.2f}",
             f"{result['class_name']:<{class_width}}"]
            + [f"{result['probabilities'][name]:>{column}.4f}"
               for name, column in zip(names, columns)] + [note]).rstrip())
    return "\n".join(lines)


def run(paths, flag_values=FLAGS) -> dict:
    """Predicts the wav files `paths` with --model_dir; prints the table (or JSON) and one
    `error:` line per file that failed, then exits with status 1 if any failed.

    Returns:
      The `predict_files` record (when every file was predicted).
    """
    if not flag_values.model_dir:
        raise app.UsageError("--model_dir is required (an export directory or a version of it)")
    if not paths:
        raise app.UsageError("name at least one wav file: python -m mmtl_tf.predict "
                             "--model_dir=DIR a.wav b.wav")
    prediction = predict_files(flag_values.model_dir, paths, flag_values.batch_size)
    if flag_values.json:
        print(json.dumps(prediction, indent=2))
    else:
        print(format_table(prediction))
    for failure in prediction["errors"]:
        print(f"error: {failure['error']}", file=sys.stderr)
    if prediction["errors"]:
        sys.exit(1)
    return prediction


def main(argv):
    """Runs `run` on the files named on the command line (errors: `cli_app.guard`)."""
    run(argv[1:])


if __name__ == "__main__":
    cli_app.run(main, COMMAND, __doc__)

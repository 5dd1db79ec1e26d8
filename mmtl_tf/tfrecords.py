"""The one record schema: segment TFRecords, per-speaker shards and manifest.json.

`mmtl_tf.prepare` writes, training and evaluation read; both go through this module, and a
single `FEATURE_SPEC` drives `serialize_segment` and `parse_segments` (as keras-io's TFRecord
recipe pairs `create_example` with `parse_tfrecord_fn`). One `tf.train.Example` per segment:

- `utterance_id`, `speaker`: bytes.
- `segment_index`: int64, position of the segment within its utterance.
- `emotion`: int64 index into the manifest's `class_names`.
- `valence`, `arousal`, `dominance`: int64 bin 0..3, or -1 (`corpora.MISSING_LABEL`).
- `num_frames`: int64, frames computed from real audio (before zero padding).
- `spectrogram`: bytes, little-endian float16 [max_frames, num_bins] (300 x 200), row-major
  by time, exactly as `features.waveform_features` returned it.

Each speaker's segments go to `<speaker>-00000-of-00002.tfrecord`, ... (uncompressed), and
`manifest.json` (written last, see `write_manifest`) describes the directory. Every file is
written atomically: to a temporary name in the same directory, then `os.replace`.
"""

import json
import os

import numpy as np
import tensorflow as tf

from mmtl_tf import config as config_lib
from mmtl_tf import corpora

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"

FEATURE_SPEC = {
    "utterance_id": tf.io.FixedLenFeature([], tf.string),
    "speaker": tf.io.FixedLenFeature([], tf.string),
    "segment_index": tf.io.FixedLenFeature([], tf.int64),
    "emotion": tf.io.FixedLenFeature([], tf.int64),
    "valence": tf.io.FixedLenFeature([], tf.int64),
    "arousal": tf.io.FixedLenFeature([], tf.int64),
    "dominance": tf.io.FixedLenFeature([], tf.int64),
    "num_frames": tf.io.FixedLenFeature([], tf.int64),
    "spectrogram": tf.io.FixedLenFeature([], tf.string),
}

_PARSE_BATCH = 64


def temporary_path(path: str) -> str:
    """The name a file is written under before `os.replace` moves it to `path`."""
    return f"{path}.tmp-{os.getpid()}"


def write_json(path: str, value) -> None:
    """Writes `value` as indented JSON to `path` atomically."""
    temporary = temporary_path(path)
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(value, handle, indent=2)
        handle.write("\n")
    os.replace(temporary, path)


def serialize_segment(utterance: corpora.Utterance, segment_index: int,
                      spectrogram: np.ndarray, num_frames: int) -> bytes:
    """Serialises one segment as a `tf.train.Example` following `FEATURE_SPEC`.

    Args:
      utterance: the utterance the segment came from (ids and labels).
      segment_index: position of the segment within the utterance.
      spectrogram: float [max_frames, num_bins], stored as little-endian float16.
      num_frames: frames computed from real audio, before padding.

    Returns:
      The serialised example (deterministic bytes for equal inputs).

    Raises:
      ValueError: if `spectrogram` is not 2-D.
    """
    spectrogram = np.asarray(spectrogram)
    if spectrogram.ndim != 2:
        raise ValueError(f"{utterance.utterance_id}: spectrogram must be [frames, bins], "
                         f"got shape {spectrogram.shape}")
    values = {
        "utterance_id": utterance.utterance_id.encode("utf-8"),
        "speaker": utterance.speaker.encode("utf-8"),
        "segment_index": segment_index,
        "emotion": utterance.emotion,
        "valence": utterance.valence,
        "arousal": utterance.arousal,
        "dominance": utterance.dominance,
        "num_frames": num_frames,
        "spectrogram": np.ascontiguousarray(spectrogram, dtype="<f2").tobytes(),
    }
    feature = {}
    for name, spec in FEATURE_SPEC.items():
        if spec.dtype == tf.string:
            feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[values[name]]))
        else:
            feature[name] = tf.train.Feature(
                int64_list=tf.train.Int64List(value=[int(values[name])]))
    example = tf.train.Example(features=tf.train.Features(feature=feature))
    return example.SerializeToString(deterministic=True)


def parse_segments(serialized, feature_config: config_lib.FeatureConfig) -> dict:
    """Parses serialised segments (inverse of `serialize_segment`); usable in `Dataset.map`.

    Args:
      serialized: string tensor, scalar or [batch].
      feature_config: gives the spectrogram shape [max_frames, num_bins].

    Returns:
      A dict with `spectrogram` float32 [..., max_frames, num_bins]; `emotion`, `valence`,
      `arousal`, `dominance`, `num_frames`, `segment_index` int32 [...]; `utterance_id`,
      `speaker` string [...], where [...] is the shape of `serialized`.
    """
    serialized = tf.convert_to_tensor(serialized, tf.string)
    parsed = tf.io.parse_example(serialized, FEATURE_SPEC)
    raw = tf.io.decode_raw(parsed.pop("spectrogram"), tf.float16, little_endian=True)
    shape = tf.concat([tf.shape(serialized), [feature_config.max_frames, feature_config.num_bins]],
                      axis=0)
    result = {"spectrogram": tf.cast(tf.reshape(raw, shape), tf.float32)}
    for name, value in parsed.items():
        result[name] = value if value.dtype == tf.string else tf.cast(value, tf.int32)
    return result


def shard_name(speaker: str, index: int, count: int) -> str:
    """File name of a speaker's shard: `1F-00000-of-00002.tfrecord`."""
    return f"{speaker}-{index:05d}-of-{count:05d}.tfrecord"


def write_manifest(directory: str, manifest: dict) -> None:
    """Writes `directory/manifest.json` atomically; call it after every shard is in place."""
    write_json(os.path.join(directory, MANIFEST_NAME), manifest)


def load_manifest(directory: str, feature_config: config_lib.FeatureConfig = None) -> dict:
    """Reads `directory/manifest.json` and checks it against the features the caller expects.

    Args:
      directory: a directory written by `python -m mmtl_tf.prepare`.
      feature_config: when given, the stored feature config must equal it field by field.

    Returns:
      The manifest dict (see `mmtl_tf.preparation` for its shape).

    Raises:
      FileNotFoundError: no manifest (prepare never ran or did not finish).
      ValueError: unreadable manifest, another format version, or other feature settings.
    """
    path = os.path.join(directory, MANIFEST_NAME)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path} not found: {directory} holds no finished preparation. Run "
            f"`python -m mmtl_tf.prepare --tfrecord_dir={directory}` (and the corpus flags) "
            f"first.")
    try:
        with open(path, encoding="utf-8") as handle:
            manifest = json.load(handle)
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: unreadable manifest ({error}); re-run `python -m "
                         f"mmtl_tf.prepare --tfrecord_dir={directory}`") from None
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        found = manifest.get("format_version") if isinstance(manifest, dict) else None
        raise ValueError(f"{path}: format_version {found!r}, this code reads {FORMAT_VERSION}; "
                         f"re-run `python -m mmtl_tf.prepare --tfrecord_dir={directory}`")
    if feature_config is not None:
        differences = config_lib.describe_mismatch(feature_config.to_dict(),
                                                   manifest.get("feature_config", {}))
        if differences:
            raise ValueError(
                f"{path} was prepared with other feature settings: {'; '.join(differences)}. "
                f"Re-run `python -m mmtl_tf.prepare` with these flags into another "
                f"--tfrecord_dir, or pass flags matching the stored settings.")
    return manifest


def speaker_shard_paths(directory: str, manifest: dict, speaker: str) -> list:
    """Paths of one speaker's shards, in order.

    Raises:
      ValueError: the speaker is not in the manifest.
      FileNotFoundError: a listed shard is missing.
    """
    speakers = manifest["speakers"]
    if speaker not in speakers:
        raise ValueError(f"speaker {speaker!r} is not in {directory}/{MANIFEST_NAME} "
                         f"(speakers: {', '.join(speakers)})")
    paths = [os.path.join(directory, name) for name in speakers[speaker]["shards"]]
    for path in paths:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path} is listed in the manifest but missing; re-run "
                                    f"`python -m mmtl_tf.prepare --tfrecord_dir={directory}`")
    return paths


def speaker_dataset(directory: str, manifest: dict, speaker: str,
                    feature_config: config_lib.FeatureConfig) -> tf.data.Dataset:
    """One speaker's parsed segments, in the order prepare wrote them.

    Args:
      directory: the TFRecord directory.
      manifest: its manifest (`load_manifest`).
      speaker: a speaker id of the manifest.
      feature_config: the spectrogram shape.

    Returns:
      A dataset of single-segment dicts as `parse_segments` returns them (spectrogram float32
      [max_frames, num_bins], scalar labels).
    """
    dataset = tf.data.TFRecordDataset(speaker_shard_paths(directory, manifest, speaker))
    dataset = dataset.batch(_PARSE_BATCH).map(
        lambda serialized: parse_segments(serialized, feature_config),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.unbatch()

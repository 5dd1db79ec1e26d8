"""The one record schema: segment TFRecords, per-speaker shards and manifest.json.

`mmtl_tf.prepare` writes, training and evaluation read; both go through this schema, and a
single `FEATURE_SPEC` drives `serialize_segment` and `parse_segments` (as keras-io's TFRecord
recipe pairs `create_example` with `parse_tfrecord_fn`). One `tf.train.Example` per segment:

- `utterance_id`, `speaker`: bytes.
- `segment_index`: int64, position of the segment within its utterance.
- `emotion`: int64 index into the manifest's `class_names`.
- `valence`, `arousal`, `dominance`: int64 bin 0..3, or -1 (`labels.MISSING_LABEL`).
- `num_frames`: int64, frames computed from real audio (before zero padding).
- `spectrogram`: bytes, little-endian float16 [max_frames, num_bins] (300 x 200), row-major
  by time, exactly as `features.waveform_features` returned it.

Segments go to shard files `<head>-00000-of-00002.tfrecord`, ... (uncompressed), in the
generation folder `manifest.json` names. A shard file belongs to one *unit* of consecutive
speakers named by its first one (its head): a speaker with more segments than a shard holds is a
unit of its own, spread over several files; smaller speakers share one file until it is full, so
a corpus of thousands of small speakers is not thousands of files (issue 17.3). Each manifest
entry lists its speaker's shards and, per shard, the run of records that are its own
(`shard_records`, [first, count]; absent in format 1, where a shard is one speaker's whole
file). `load_manifest` reads manifest.json and checks it against the features a reader expects.

Neighbours: `mmtl_tf.shard_writer` writes the shards; `mmtl_tf.shard_reader` reads them back
(size checks, a speaker's records, random access to single records, naming a damaged shard);
the directory's layout and its transactional updates are `mmtl_tf.tfrecord_dir`'s.
"""

import os

import numpy as np
import tensorflow as tf

from mmtl_tf import atomic_files
from mmtl_tf import config as config_lib
from mmtl_tf import corpora
from mmtl_tf import tfrecord_dir

# The manifest's layout: 2 added `shard_records` (shared shards). Format 1 directories are read as
# they are; a reader of format 1 alone would take a shared shard for one speaker's.
FORMAT_VERSION = 2
READABLE_FORMAT_VERSIONS = (1, 2)
# What a record holds (FEATURE_SPEC); part of every speaker's digest, so shards computed under
# format 1 are reused as they are.
RECORD_VERSION = 1
MANIFEST_NAME = tfrecord_dir.MANIFEST_NAME

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


def load_manifest(directory: str, feature_config: config_lib.FeatureConfig = None) -> dict:
    """Reads `directory/manifest.json` and checks it against the features the caller expects.

    Args:
      directory: a directory written by `python -m mmtl_tf.prepare`.
      feature_config: when given, the stored feature config must equal it field by field.

    Returns:
      The manifest dict (see `mmtl_tf.preparation` for its shape).

    Raises:
      FileNotFoundError: no manifest (prepare never ran or did not finish).
      ValueError: unreadable manifest, a missing key, another format version, or other
        feature settings; the message names manifest.json and what to do.
    """
    path = os.path.join(directory, MANIFEST_NAME)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"{path} not found: {directory} holds no finished preparation. Run "
            f"`python -m mmtl_tf.prepare --tfrecord_dir={directory}` (and the corpus flags) "
            f"first.")
    try:
        manifest = atomic_files.read_json(path)
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: unreadable manifest ({error}); re-run `python -m "
                         f"mmtl_tf.prepare --tfrecord_dir={directory}`") from None
    if (isinstance(manifest, dict)
            and manifest.get("format_version") not in READABLE_FORMAT_VERSIONS):
        raise ValueError(f"{path}: format_version {manifest.get('format_version')!r}, this code "
                         f"reads {' and '.join(map(str, READABLE_FORMAT_VERSIONS))}; re-run `python -m mmtl_tf.prepare "
                         f"--tfrecord_dir={directory}`")
    tfrecord_dir.validate_manifest(path, manifest)
    if feature_config is not None:
        differences = config_lib.describe_mismatch(feature_config.to_dict(),
                                                   manifest["feature_config"])
        if differences:
            raise ValueError(
                f"{path} was prepared with other feature settings: {'; '.join(differences)}. "
                f"Re-run `python -m mmtl_tf.prepare` with these flags into another "
                f"--tfrecord_dir, or pass flags matching the stored settings.")
    return manifest

"""Reading prepared shards back: each speaker's files and records, and naming a damaged shard.

The reader side of `mmtl_tf.tfrecords`, which holds the record schema, shard names and
manifest.json (`mmtl_tf.shard_writer` writes the shards, `mmtl_tf.tfrecord_dir` owns the
directory's layout). `speaker_shard_paths` checks each shard's size against the manifest, so a
truncated or replaced shard is named before TensorFlow reads it; `speaker_record_runs` says
which records of a shared shard are a speaker's own. `speaker_dataset` reads one speaker in
order; `record_offsets` and `read_records` give random access to single records (CRC-checked),
so an episode reads only the segments it uses (`mmtl_tf.episodes`). When reading failed,
`damaged_shard_error` reads the shards record by record to name the bad one
(`DamagedShardError`).
"""

import functools
import os
import struct

import numpy as np
import tensorflow as tf
from tensorflow.python.lib.io import tf_record  # the one random-access TFRecord reader

from mmtl_tf import config as config_lib
from mmtl_tf import tfrecord_dir
from mmtl_tf import tfrecords

_PARSE_BATCH = 64


class DamagedShardError(RuntimeError):
    """A TFRecord shard cannot be read; the message names it and how to rebuild it."""


def damaged_shard_message(path: str, directory: str, detail: str) -> str:
    """The message of a DamagedShardError for the shard `path` of `directory`."""
    return (f"{path}: damaged TFRecord shard ({detail}). Delete it and re-run `python -m "
            f"mmtl_tf.prepare --tfrecord_dir={directory}` with the same flags: the speakers "
            f"stored in it are recomputed, the others are kept.")


def speaker_shard_paths(directory: str, manifest: dict, speaker: str) -> list:
    """Paths of one speaker's shards, in order, each checked against its recorded size.

    Raises:
      ValueError: the speaker is not in the manifest.
      FileNotFoundError: a listed shard is missing.
      DamagedShardError: a shard's size differs from the one prepare recorded (truncated or
        replaced); the message names the shard.
    """
    speakers = manifest["speakers"]
    if speaker not in speakers:
        raise ValueError(f"speaker {speaker!r} is not in "
                         f"{directory}/{tfrecord_dir.MANIFEST_NAME} "
                         f"(speakers: {', '.join(speakers)})")
    folder = tfrecord_dir.shard_folder(directory, manifest)
    paths = [os.path.join(folder, name) for name in speakers[speaker]["shards"]]
    sizes = speakers[speaker].get("shard_bytes") or [None] * len(paths)
    for path, size in zip(paths, sizes):
        if not os.path.isfile(path):
            raise FileNotFoundError(_missing_shard_message(path, directory, manifest))
        if size is not None and os.path.getsize(path) != size:
            raise DamagedShardError(damaged_shard_message(
                path, directory, f"{os.path.getsize(path)} bytes, prepare wrote {size}"))
    return paths


def _missing_shard_message(path: str, directory: str, manifest: dict) -> str:
    """Why a shard the manifest lists is missing: the directory was prepared again while this
    process read the older manifest (prepare removes the generation it replaces), or not."""
    current = tfrecord_dir.read_committed(directory)
    if current is not None and current.get("generation") != manifest.get("generation"):
        return (f"{path} is gone: {directory} was prepared again while this process read it "
                f"({current.get('generation')} replaced {manifest.get('generation')}). Start "
                f"the command again to read the new data (a run resumes only while its "
                f"speakers' data is unchanged; --rerun trains it again)")
    return (f"{path} is listed in the manifest but missing; re-run "
            f"`python -m mmtl_tf.prepare --tfrecord_dir={directory}`")


def speaker_record_runs(manifest: dict, speaker: str) -> list:
    """Per shard of `speaker_shard_paths`, the (first record, count) that are the speaker's.

    count is None for a format 1 entry (the whole file is the speaker's).
    """
    entry = manifest["speakers"][speaker]
    runs = entry.get("shard_records") or [[0, None]] * len(entry["shards"])
    return [(int(first), None if count is None else int(count)) for first, count in runs]


@functools.lru_cache(maxsize=None)
def _scan_offsets(path: str, size: int, modified_ns: int) -> tuple:
    """Start offsets of the records of a TFRecord file, from the length fields of their headers."""
    del modified_ns  # part of the cache key only
    offsets, position = [], 0
    with open(path, "rb", buffering=0) as handle:  # 8 bytes a record, not a buffer's worth
        while position < size:
            header = handle.read(8)
            length = struct.unpack("<Q", header)[0] if len(header) == 8 else size
            end = position + 12 + length + 4  # length, its CRC, data, the data's CRC
            if end > size:
                raise DamagedShardError(
                    f"record at byte {position} ends past the end of the file (truncated, or its "
                    f"length field is damaged)")
            offsets.append(position)
            position = end
            handle.seek(position)
    return tuple(offsets)


def record_offsets(path: str, directory: str) -> tuple:
    """Start offsets of every record of a shard, for `read_records` (cached per file version).

    Args:
      path: the shard.
      directory: its prepared directory (named in the error message's advice).

    Raises:
      DamagedShardError: the file ends inside a record; the message names it.
    """
    status = os.stat(path)
    try:
        return _scan_offsets(path, status.st_size, status.st_mtime_ns)
    except DamagedShardError as error:
        raise DamagedShardError(damaged_shard_message(path, directory, str(error))) from None


def read_records(paths, path_indices, offsets) -> np.ndarray:
    """Reads single records by (file, offset), checking their CRCs; usable in `numpy_function`.

    Args:
      paths: shard paths.
      path_indices: int [n], an index into `paths` per record.
      offsets: int [n], the record's start offset (from `record_offsets`).

    Returns:
      object [n] of serialised records (bytes), in the order asked.

    Raises:
      ValueError: a record fails its CRC check or lies outside its file; the message names the
        file.
    """
    records = np.empty(len(offsets), dtype=object)
    order = np.argsort(path_indices, kind="stable")
    for index in np.unique(path_indices):  # one open file at a time
        path = paths[int(index)]
        try:
            reader = tf_record.tf_record_random_reader(path)
            try:
                for position in order[path_indices[order] == index]:
                    records[position] = reader.read(int(offsets[position]))[0]
            finally:
                reader.close()
        except (tf.errors.OpError, IndexError, OSError) as error:
            raise ValueError(f"{path}: damaged TFRecord shard "
                             f"({str(error).splitlines()[0]})") from None
    return records


def read_records_op(paths, path_indices, offsets) -> tf.Tensor:
    """`read_records` as a TensorFlow op, for `Dataset.map`: string [n].

    A damaged record fails the op with `tf.errors.InvalidArgumentError` naming the shard (which
    the training loop turns into a DamagedShardError); the failure is reported as data, not
    raised inside `numpy_function`, so TensorFlow logs no Python traceback.
    """
    def read_or_report(files, starts):
        try:
            return read_records(paths, files, starts), b""
        except ValueError as error:
            return np.full(len(starts), b"", dtype=object), str(error).encode("utf-8")

    records, problem = tf.numpy_function(  # stateless, so it stays parallel under op determinism
        read_or_report, [path_indices, offsets], [tf.string, tf.string], stateful=False)
    with tf.control_dependencies([tf.debugging.Assert(tf.equal(problem, b""), [problem])]):
        return tf.identity(records)


def speaker_dataset(directory: str, manifest: dict, speaker: str,
                    feature_config: config_lib.FeatureConfig) -> tf.data.Dataset:
    """One speaker's parsed segments, in the order prepare wrote them.

    Args:
      directory: the TFRecord directory.
      manifest: its manifest (`tfrecords.load_manifest`).
      speaker: a speaker id of the manifest.
      feature_config: the spectrogram shape.

    Returns:
      A dataset of single-segment dicts as `tfrecords.parse_segments` returns them
      (spectrogram float32 [max_frames, num_bins], scalar labels).
    """
    dataset = None
    for path, (first, count) in zip(speaker_shard_paths(directory, manifest, speaker),
                                    speaker_record_runs(manifest, speaker)):
        part = tf.data.TFRecordDataset(path).skip(first).take(-1 if count is None else count)
        dataset = part if dataset is None else dataset.concatenate(part)
    dataset = dataset.batch(_PARSE_BATCH).map(
        lambda serialized: tfrecords.parse_segments(serialized, feature_config),
        num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.unbatch()


def find_damaged_shard(directory: str, manifest: dict, speakers, feature_config):
    """Reads every shard of `speakers` record by record and returns (path, error) of the first bad one.

    Called only after reading failed, to turn TensorFlow's DataLossError into a message naming
    the file. Returns None when every shard reads (the error came from elsewhere).
    """
    for speaker in speakers:
        for path in speaker_shard_paths(directory, manifest, speaker):
            try:
                for record in tf.data.TFRecordDataset(path).batch(64):
                    tfrecords.parse_segments(record, feature_config)
            except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as error:
                return path, error.message.splitlines()[0]
    return None


def damaged_shard_error(directory, manifest, speakers, feature_config, error) -> Exception:
    """The error to raise when reading shards failed with `error` (DamagedShardError if one is bad)."""
    found = find_damaged_shard(directory, manifest, speakers, feature_config)
    if found is None:
        return error
    return DamagedShardError(damaged_shard_message(found[0], directory, found[1]))

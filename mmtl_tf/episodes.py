"""Speaker episodes (paper section 2.1): training speakers are the tasks of meta learning.

An episode is what one outer step sees: m speakers x B segments each, as fixed-shape tensors
    spectrogram    float32 [m, B, max_frames, num_bins]
    labels         int32   [m, B, 4]   columns: emotion, valence, arousal, dominance (-1 = none)
    class_weights  float32 [m, 4, C]   per-speaker, per-task w'_{i,c} (paper section 3.1.3)
streamed from each speaker's shards (a per-speaker shuffle seeded by (seed, epoch), repeat, batch)
and zipped across speakers. An epoch ends when the largest speaker has been seen once, as in the
authors' code, so smaller speakers wrap around within an epoch.

Folds (paper section 3.1.2): fold f holds out session f; one of its speakers validates (model
selection) and the other is tested; every other session trains.
"""

import dataclasses
import math

import numpy as np
import tensorflow as tf

from mmtl_tf import corpora, tfrecords
from mmtl_tf.algorithms import common

_SEED_STRIDE = 1_000_003


@dataclasses.dataclass(frozen=True)
class FoldSplit:
    """Speakers of one fold: `train` (sorted), `validation` and `test` speaker ids."""

    fold: int
    session: str
    train: tuple
    validation: str
    test: str


def fold_split(manifest: dict, fold: int, val_speaker: str = "F") -> FoldSplit:
    """Picks the training, validation and test speakers of a fold.

    Args:
      manifest: a TFRecord manifest.
      fold: 1-based index into the sorted sessions (IEMOCAP: fold f is Session f).
      val_speaker: "F" or "M" picks the held-out session's speaker whose id ends in that letter
        (IEMOCAP's 1F/1M, a CSV corpus's actor01M); a full speaker id picks that speaker. Where the
        session's speakers do not end in distinct F/M letters, the first in sorted order validates.
        The held-out session must have exactly two speakers.

    Raises:
      ValueError: naming --fold or --val_speaker when they do not fit the corpus.
    """
    sessions = corpora.sessions_of(
        {speaker: info["session"] for speaker, info in manifest["speakers"].items()})
    names = list(sessions)
    if not 1 <= fold <= len(names):
        raise ValueError(f"--fold={fold} is out of range: {manifest['corpus']} has "
                         f"{len(names)} sessions ({', '.join(names)}), so folds are 1..{len(names)}")
    session = names[fold - 1]
    held_out = sessions[session]
    if len(held_out) != 2:
        raise ValueError(f"--fold={fold}: session {session} has speakers {held_out}; a fold needs "
                         f"exactly two (one validates, one is tested)")
    if val_speaker in held_out:
        validation = val_speaker
    elif val_speaker.upper() in ("F", "M"):
        matching = [s for s in held_out if s.upper().endswith(val_speaker.upper())]
        validation = matching[0] if len(matching) == 1 else held_out[0]
    else:
        raise ValueError(f"--val_speaker={val_speaker!r} is neither F, M nor a speaker of "
                         f"session {session} ({', '.join(held_out)})")
    test = [s for s in held_out if s != validation][0]
    train = tuple(s for name in names if name != session for s in sessions[name])
    for speaker in train + (validation, test):
        if manifest["speakers"][speaker]["num_segments"] == 0:
            raise ValueError(f"speaker {speaker} has no segments in the prepared data")
    return FoldSplit(fold, session, train, validation, test)


def class_weights(manifest: dict, speakers, num_classes: int) -> np.ndarray:
    """Per-speaker class weights w'_{i,c} = (N_i / N_{i,c}) / max_c (N_i / N_{i,c}) for each task.

    A class the speaker lacks gets weight 0 (never inf or NaN): it cannot occur in its batches.

    Returns:
      float32 [len(speakers), 4, max(num_classes, 4)], task order emotion, valence, arousal, dominance.
    """
    width = max(num_classes, 4)
    weights = np.zeros((len(speakers), len(common.TASKS), width), np.float32)
    for row, speaker in enumerate(speakers):
        histograms = manifest["speakers"][speaker]["histograms"]
        for task_index, task in enumerate(common.TASKS):
            counts = np.asarray(histograms.get(task, []), np.float64)
            present = counts > 0
            if not present.any():
                continue
            raw = np.where(present, counts.sum() / np.maximum(counts, 1), 0.0)
            weights[row, task_index, :len(counts)] = raw / raw.max()
    return weights


def steps_per_epoch(manifest: dict, speakers, segments_per_speaker: int) -> int:
    """Outer steps until the largest speaker has been seen once."""
    largest = max(manifest["speakers"][s]["num_segments"] for s in speakers)
    return max(1, math.ceil(largest / segments_per_speaker))


def _labels(parsed):
    return tf.stack([parsed["emotion"], parsed["valence"], parsed["arousal"], parsed["dominance"]],
                    axis=-1)


def episode_dataset(directory: str, manifest: dict, speakers, segments_per_speaker: int,
                    feature_config, num_classes: int, seed: int, epoch: int,
                    speakers_per_episode: int = 0) -> tf.data.Dataset:
    """The episodes of one epoch, deterministic in (seed, epoch).

    Args:
      directory, manifest: the prepared TFRecords.
      speakers: training speaker ids (the tasks).
      segments_per_speaker: B.
      feature_config: the spectrogram shape.
      num_classes: emotion classes (the class-weight width is max(num_classes, 4)).
      seed, epoch: select the shuffles.
      speakers_per_episode: m; 0 (or >= len(speakers)) takes every speaker in every episode,
        otherwise each episode samples m distinct speakers.

    Returns:
      A finite dataset of episode dicts (see the module docstring), `steps_per_epoch` long.
    """
    speakers = list(speakers)
    steps = steps_per_epoch(manifest, speakers, segments_per_speaker)
    weights = tf.constant(class_weights(manifest, speakers, num_classes))
    streams = []
    for index, speaker in enumerate(speakers):
        paths = tfrecords.speaker_shard_paths(directory, manifest, speaker)
        size = manifest["speakers"][speaker]["num_segments"]
        stream_seed = (seed * _SEED_STRIDE + epoch) * 131 + index
        stream = (tf.data.TFRecordDataset(paths)
                  .shuffle(size, seed=stream_seed, reshuffle_each_iteration=True)
                  .repeat()
                  .batch(segments_per_speaker, drop_remainder=True)
                  .map(lambda s: tfrecords.parse_segments(s, feature_config),
                       num_parallel_calls=tf.data.AUTOTUNE, deterministic=True))
        streams.append(stream)

    def stack(*parsed):
        return {"spectrogram": tf.stack([p["spectrogram"] for p in parsed]),
                "labels": tf.stack([_labels(p) for p in parsed]),
                "class_weights": weights}

    dataset = tf.data.Dataset.zip(tuple(streams)).map(stack, num_parallel_calls=tf.data.AUTOTUNE,
                                                      deterministic=True)
    dataset = dataset.take(steps)
    count = len(speakers)
    if 0 < speakers_per_episode < count:
        def sample(step, episode):
            order = tf.random.experimental.stateless_shuffle(
                tf.range(count), seed=tf.stack([tf.cast(seed * _SEED_STRIDE + epoch, tf.int64), step]))
            chosen = order[:speakers_per_episode]
            return {name: tf.gather(value, chosen) for name, value in episode.items()}
        dataset = dataset.enumerate().map(sample, num_parallel_calls=tf.data.AUTOTUNE,
                                          deterministic=True)
    return dataset.prefetch(2)


def speaker_segments(directory: str, manifest: dict, speaker: str, feature_config) -> dict:
    """All segments of one speaker in memory, in prepared order (for evaluation).

    Returns:
      dict of numpy arrays: `spectrogram` float32 [N, frames, bins], `labels` int32 [N, 4],
      `utterance_id` bytes [N].
    """
    parts = {"spectrogram": [], "labels": [], "utterance_id": []}
    dataset = tfrecords.speaker_dataset(directory, manifest, speaker, feature_config).batch(256)
    try:
        for parsed in dataset:
            parts["spectrogram"].append(parsed["spectrogram"].numpy())
            parts["labels"].append(_labels(parsed).numpy())
            parts["utterance_id"].append(parsed["utterance_id"].numpy())
    except (tf.errors.DataLossError, tf.errors.InvalidArgumentError) as error:
        raise damaged_shard_error(directory, manifest, [speaker], feature_config, error) from None
    if sum(len(p) for p in parts["labels"]) != manifest["speakers"][speaker]["num_segments"]:
        raise DamagedShardError(
            f"speaker {speaker}: the shards in {directory} hold another number of segments than "
            f"manifest.json says (a truncated shard?); re-run `python -m mmtl_tf.prepare`")
    return {name: np.concatenate(values) for name, values in parts.items()}


class DamagedShardError(RuntimeError):
    """A TFRecord shard cannot be read; the message names it and how to rebuild it."""


def find_damaged_shard(directory: str, manifest: dict, speakers, feature_config):
    """Reads every shard of `speakers` record by record and returns (path, error) of the first bad one.

    Called only after reading failed, to turn TensorFlow's DataLossError into a message naming
    the file. Returns None when every shard reads (the error came from elsewhere).
    """
    for speaker in speakers:
        for path in tfrecords.speaker_shard_paths(directory, manifest, speaker):
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
    path, detail = found
    return DamagedShardError(
        f"{path}: damaged TFRecord shard ({detail}). Delete it and re-run `python -m "
        f"mmtl_tf.prepare --tfrecord_dir={directory}` with the same flags: that speaker is "
        f"recomputed, the others are kept.")

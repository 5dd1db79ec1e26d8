"""Speaker episodes (paper section 2.1): training speakers are the tasks of meta learning.

An episode is what one outer step sees: m speakers x B segments each, as fixed-shape tensors
    spectrogram    float32 [m, B, max_frames, num_bins]
    labels         int32   [m, B, 4]   columns: emotion, valence, arousal, dominance (-1 = none)
    class_weights  float32 [m, 4, C]   per-speaker, per-task w'_{i,c} (paper section 3.1.3)

The epoch is planned first, in numpy, from (seed, epoch) alone: which m speakers each step takes
(all of them, in order, when m is 0), and which B segments of each: every speaker walks through
its own shuffles of its segments, one after the other, so a speaker is seen whole before any
segment repeats. An epoch ends when the largest speaker has been seen once, as in the authors'
code, so smaller speakers wrap around within an epoch. Then tf.data reads exactly the planned
records, by file offset (`tfrecords.record_offsets`, `tfrecords.read_records`), and parses them.
So an episode reads only the speakers it uses: open files, memory and start-up stay bounded by
m x B however many speakers the corpus has (`bench.corpus_scale` measures them).

Folds (paper section 3.1.2): fold f holds out session f; one of its speakers validates (model
selection) and the other is tested; every other session trains.
"""

import dataclasses
import math

import numpy as np
import tensorflow as tf

from mmtl_tf import corpora
from mmtl_tf import labels
from mmtl_tf import tfrecords

DamagedShardError = tfrecords.DamagedShardError  # re-exported: callers catch it from here
_SEED_MASK = 2**63 - 1
# Episodes read at once (a module constant so the memory figure can try a fixed count; issue
# 17.2, BUILD.md "Memory over a long run": autotuning may raise it during a run, and each
# episode more in flight, ~15 MB in the demo preset, raises the peak memory).
READ_PARALLELISM = tf.data.AUTOTUNE


@dataclasses.dataclass(frozen=True)
class FoldSplit:
    """Speakers of one fold: `train` (sorted), `validation` and `test` speaker ids."""

    fold: int
    session: str
    train: tuple
    validation: str
    test: str


def _sessions(manifest: dict) -> dict:
    """{session: [speakers, sorted]}, sessions sorted."""
    return corpora.sessions_of({speaker: info["session"]
                                for speaker, info in manifest["speakers"].items()})


def _check_corpus_can_make_folds(manifest: dict) -> None:
    """Refuses a corpus with one session, or whose segments all have one emotion class."""
    sessions = _sessions(manifest)
    if len(sessions) < 2:
        raise ValueError(f"corpus {manifest['corpus']} has a single session "
                         f"({', '.join(sessions)}): a fold holds out one session and trains on "
                         f"the others, so the corpus needs at least two (the CSV 'session' column)")
    totals = np.sum([entry["histograms"]["emotion"] for entry in manifest["speakers"].values()],
                    axis=0)
    present = [name for name, total in zip(manifest["class_names"], totals) if total > 0]
    if len(present) < 2:
        raise ValueError(f"corpus {manifest['corpus']}: every segment is of class "
                         f"{', '.join(present) or 'none'}, so emotion recognition is trivial; "
                         f"prepare it with at least two classes present (--classes)")


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
      ValueError: naming --fold or --val_speaker when they do not fit the corpus, or naming the
        corpus when it has one session or one emotion class.
    """
    _check_corpus_can_make_folds(manifest)
    sessions = _sessions(manifest)
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
      float32 [len(speakers), 4, max(num_classes, NUM_VAD_BINS)], tasks in `labels.TASKS` order.
    """
    width = max(num_classes, labels.NUM_VAD_BINS)
    weights = np.zeros((len(speakers), len(labels.TASKS), width), np.float32)
    for row, speaker in enumerate(speakers):
        histograms = manifest["speakers"][speaker]["histograms"]
        for task_index, task in enumerate(labels.TASKS):
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


def _check_segment_count(directory: str, manifest: dict, speaker: str, found: int) -> None:
    """Raises DamagedShardError when a speaker's shards hold another count than the manifest's."""
    expected = manifest["speakers"][speaker]["num_segments"]
    if found != expected:
        shards = ", ".join(tfrecords.speaker_shard_paths(directory, manifest, speaker))
        raise DamagedShardError(
            f"{shards}: {found} segments, manifest.json says {expected} (a truncated or "
            f"replaced shard). Delete them and re-run `python -m mmtl_tf.prepare "
            f"--tfrecord_dir={directory}` with the same flags: the speakers they hold are recomputed.")


def _labels(parsed):
    return tf.stack([parsed[task] for task in labels.TASKS], axis=-1)


def _rng(*values) -> np.random.Generator:
    """A numpy generator seeded by integers (any sign)."""
    return np.random.default_rng([value & _SEED_MASK for value in values])


def epoch_plan(sizes, steps: int, segments_per_speaker: int, speakers_per_episode: int,
               seed: int, epoch: int):
    """Which speakers each step of an epoch takes, and which of their segments.

    Args:
      sizes: segments of each training speaker, in the order of `speakers`.
      steps: outer steps of the epoch.
      segments_per_speaker: B.
      speakers_per_episode: m; 0 (or >= len(sizes)) takes every speaker, in order.
      seed, epoch: select the sampling; the plan depends on nothing else.

    Returns:
      (rows int64 [steps, m] indices into `sizes`, segments int64 [steps, m, B] indices into
      each chosen speaker's segments in prepared order).
    """
    count = len(sizes)
    every = not 0 < speakers_per_episode < count
    width = count if every else speakers_per_episode
    choice = _rng(seed, epoch, 0)
    rows = np.array([np.arange(count) if every else choice.permutation(count)[:width]
                     for _ in range(steps)], np.int64).reshape(steps, width)
    segments = np.zeros((steps, width, segments_per_speaker), np.int64)
    for row, size in enumerate(sizes):
        visits = np.argwhere(rows == row)  # (step, slot) pairs, in step order
        needed = len(visits) * segments_per_speaker
        if not needed:
            continue
        shuffles = _rng(seed, epoch, 1 + row)
        walk = np.concatenate([shuffles.permutation(size) for _ in range(-(-needed // size))])
        segments[visits[:, 0], visits[:, 1]] = walk[:needed].reshape(-1, segments_per_speaker)
    return rows, segments


def _record_table(directory: str, manifest: dict, speakers):
    """(shard paths, [int64 [N_i, 2] (path index, offset) of each speaker's segments]).

    Raises:
      DamagedShardError: a speaker's shards hold another count than the manifest's.
    """
    index_of, records = {}, []  # records[row]: (path index, offset) per segment of that speaker
    for speaker in speakers:
        table = []
        for path, (first, count) in zip(tfrecords.speaker_shard_paths(directory, manifest, speaker),
                                        tfrecords.speaker_record_runs(manifest, speaker)):
            offsets = tfrecords.record_offsets(path, directory)[first:]
            index = index_of.setdefault(path, len(index_of))  # speakers may share a shard
            table += [(index, offset) for offset in offsets[:count]]
        _check_segment_count(directory, manifest, speaker, len(table))
        records.append(np.array(table, np.int64).reshape(-1, 2))
    return list(index_of), records


def _planned_records(records, steps: int, segments_per_speaker: int,
                     speakers_per_episode: int, seed: int, epoch: int):
    """An epoch's `epoch_plan` as records to read.

    Returns:
      (rows int64 [steps, m], path indices int64 [steps, m*B], offsets int64 [steps, m*B]).
    """
    rows, segments = epoch_plan([len(table) for table in records], steps, segments_per_speaker,
                                speakers_per_episode, seed, epoch)
    chosen = np.stack([np.stack([records[row][segments[step, slot]] for slot, row in
                                 enumerate(rows[step])]) for step in range(steps)])
    return rows, chosen[..., 0].reshape(steps, -1), chosen[..., 1].reshape(steps, -1)


def _episode_width(speakers, speakers_per_episode: int) -> int:
    """m of an episode: `speakers_per_episode`, or every speaker when 0 or >= their number."""
    return speakers_per_episode if 0 < speakers_per_episode < len(speakers) else len(speakers)


def _read_episodes(planned: tf.data.Dataset, paths, width: int, segments_per_speaker: int,
                   feature_config, weights: np.ndarray) -> tf.data.Dataset:
    """Maps (rows, path indices, offsets) elements to episode dicts, in order, prefetched."""
    weights = tf.constant(weights)

    def read(step_rows, path_indices, offsets):
        serialized = tfrecords.read_records_op(paths, path_indices, offsets)
        parsed = tfrecords.parse_segments(
            tf.ensure_shape(serialized, [width * segments_per_speaker]), feature_config)
        shape = [width, segments_per_speaker]
        return {"spectrogram": tf.reshape(parsed["spectrogram"], shape + [
                    feature_config.max_frames, feature_config.num_bins]),
                "labels": tf.reshape(_labels(parsed), shape + [len(labels.TASKS)]),
                "class_weights": tf.gather(weights, step_rows)}

    return planned.map(read, num_parallel_calls=READ_PARALLELISM,
                       deterministic=True).prefetch(2)


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
      seed, epoch: select the speakers and segments (`epoch_plan`).
      speakers_per_episode: m; 0 (or >= len(speakers)) takes every speaker in every episode,
        otherwise each episode samples m distinct speakers.

    Returns:
      A finite dataset of episode dicts (see the module docstring), `steps_per_epoch` long.
      Training reads `run_episode_dataset` instead, which gives the same episodes epoch after
      epoch from one pipeline.

    Raises:
      DamagedShardError: a shard is truncated or of another size than prepare wrote (named).
    """
    speakers = list(speakers)
    steps = steps_per_epoch(manifest, speakers, segments_per_speaker)
    paths, records = _record_table(directory, manifest, speakers)
    planned = _planned_records(records, steps, segments_per_speaker, speakers_per_episode,
                               seed, epoch)
    return _read_episodes(tf.data.Dataset.from_tensor_slices(planned), paths,
                          _episode_width(speakers, speakers_per_episode), segments_per_speaker,
                          feature_config, class_weights(manifest, speakers, num_classes))


def run_episode_dataset(directory: str, manifest: dict, speakers, segments_per_speaker: int,
                        feature_config, num_classes: int, seed: int, start_epoch: int,
                        speakers_per_episode: int = 0, start_index: int = 0,
                        num_epochs: int = None) -> tf.data.Dataset:
    """The episodes of epochs `start_epoch`, `start_epoch + 1`, ... as one dataset (issue 17.2).

    Element k of epoch e is exactly element k of `episode_dataset(..., seed, e)`: the epoch is
    data of the pipeline (a counter), each epoch's plan is the same numpy `epoch_plan`, computed
    when the pipeline reaches that epoch, and one map and one prefetch read every epoch. So a
    run builds one pipeline and one iterator, not a fresh set of buffers per epoch.

    Args:
      directory, manifest, speakers, segments_per_speaker, feature_config, num_classes, seed,
        speakers_per_episode: as `episode_dataset`.
      start_epoch: the first epoch.
      start_index: episodes of `start_epoch` to skip (a resumed run's position); skipped
        episodes are planned but not read.
      num_epochs: epochs from `start_epoch` (the skipped part included); None: without end.

    Returns:
      A dataset of episode dicts, `steps_per_epoch` per epoch.

    Raises:
      DamagedShardError: a shard is truncated or of another size than prepare wrote (named).
    """
    speakers = list(speakers)
    steps = steps_per_epoch(manifest, speakers, segments_per_speaker)
    paths, records = _record_table(directory, manifest, speakers)
    width = _episode_width(speakers, speakers_per_episode)

    def plan(epoch):
        planned = tf.numpy_function(
            lambda value: _planned_records(records, steps, segments_per_speaker,
                                           speakers_per_episode, seed, int(value)),
            [epoch], [tf.int64] * 3, stateful=False)
        return tuple(tf.ensure_shape(part, [steps, size]) for part, size in
                     zip(planned, (width, width * segments_per_speaker,
                                   width * segments_per_speaker)))

    epochs = (tf.data.Dataset.counter(start_epoch) if num_epochs is None
              else tf.data.Dataset.range(start_epoch, start_epoch + num_epochs))
    planned = epochs.map(plan).unbatch().skip(start_index)
    return _read_episodes(planned, paths, width, segments_per_speaker, feature_config,
                          class_weights(manifest, speakers, num_classes))


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
    _check_segment_count(directory, manifest, speaker, sum(len(p) for p in parts["labels"]))
    return {name: np.concatenate(values) for name, values in parts.items()}


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
    return DamagedShardError(tfrecords.damaged_shard_message(found[0], directory, found[1]))

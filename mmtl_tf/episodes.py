"""Speaker episodes (paper section 2.1): training speakers are the tasks of meta learning.

An episode is what one outer step sees: m speakers x B segments each, as fixed-shape tensors
    spectrogram    float32 [m, B, max_frames, num_bins]
    labels         int32   [m, B, 4]   columns: emotion, valence, arousal, dominance (-1 = none)
    class_weights  float32 [m, 4, C]   per-speaker, per-task w'_{i,c} (paper section 3.1.3)

The epoch is planned first, in numpy, from (seed, epoch) alone (`episode_plan.epoch_plan`:
which m speakers each step takes and which B segments of each; an epoch ends when the largest
speaker has been seen once). Then tf.data reads exactly the planned records, by file offset
(`shard_reader.record_offsets`, `shard_reader.read_records`), and parses them. So an episode
reads only the speakers it uses: open files, memory and start-up stay bounded by m x B however
many speakers the corpus has (`bench.corpus_scale` measures them).

`speaker_segments` reads one speaker whole, in memory, for evaluation (its own records only,
by offset, as episodes read theirs). Which speakers train,
validate and test is a fold's (`mmtl_tf.folds`). A read that fails is turned into an error
naming the damaged shard (`shard_reader.DamagedShardError`, the one raised here too) by
`shard_reader.damaged_shard_error`.
"""

import numpy as np
import tensorflow as tf

from mmtl_tf import episode_plan
from mmtl_tf import labels
from mmtl_tf import shard_reader
from mmtl_tf import tfrecords

_EVALUATION_BATCH = 256  # records `speaker_segments` reads and parses at once


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


def _check_segment_count(directory: str, manifest: dict, speaker: str, found: int) -> None:
    """Raises DamagedShardError when a speaker's shards hold another count than the manifest's."""
    expected = manifest["speakers"][speaker]["num_segments"]
    if found != expected:
        shards = ", ".join(shard_reader.speaker_shard_paths(directory, manifest, speaker))
        raise shard_reader.DamagedShardError(
            f"{shards}: {found} segments, manifest.json says {expected} (a truncated or "
            f"replaced shard). Delete them and re-run `python -m mmtl_tf.prepare "
            f"--tfrecord_dir={directory}` with the same flags: the speakers they hold are recomputed.")


def _labels(parsed):
    return tf.stack([parsed[task] for task in labels.TASKS], axis=-1)


def _record_table(directory: str, manifest: dict, speakers):
    """(shard paths, [int64 [N_i, 2] (path index, offset) of each speaker's segments]).

    Raises:
      DamagedShardError: a speaker's shards hold another count than the manifest's.
    """
    index_of, records = {}, []  # records[row]: (path index, offset) per segment of that speaker
    for speaker in speakers:
        table = []
        for path, (first, count) in zip(
                shard_reader.speaker_shard_paths(directory, manifest, speaker),
                shard_reader.speaker_record_runs(manifest, speaker)):
            offsets = shard_reader.record_offsets(path, directory)[first:]
            index = index_of.setdefault(path, len(index_of))  # speakers may share a shard
            table += [(index, offset) for offset in offsets[:count]]
        _check_segment_count(directory, manifest, speaker, len(table))
        records.append(np.array(table, np.int64).reshape(-1, 2))
    return list(index_of), records


def _planned_records(records, steps: int, segments_per_speaker: int,
                     speakers_per_episode: int, seed: int, epoch: int):
    """An epoch's `episode_plan.epoch_plan` as records to read.

    Returns:
      (rows int64 [steps, m], path indices int64 [steps, m*B], offsets int64 [steps, m*B]).
    """
    rows, segments = episode_plan.epoch_plan([len(table) for table in records], steps,
                                             segments_per_speaker, speakers_per_episode, seed,
                                             epoch)
    chosen = np.stack([np.stack([records[row][segments[step, slot]] for slot, row in
                                 enumerate(rows[step])]) for step in range(steps)])
    return rows, chosen[..., 0].reshape(steps, -1), chosen[..., 1].reshape(steps, -1)


def _episode_width(speakers, speakers_per_episode: int) -> int:
    """m of an episode: `speakers_per_episode`, or every speaker when 0 or >= their number."""
    return speakers_per_episode if 0 < speakers_per_episode < len(speakers) else len(speakers)


def _read_episodes(planned: tf.data.Dataset, paths, width: int, segments_per_speaker: int,
                   feature_config, weights: np.ndarray, read_parallelism: int) -> tf.data.Dataset:
    """Maps (rows, path indices, offsets) elements to episode dicts, in order, prefetched.

    `read_parallelism` episodes are read at once (0: tf.data's autotuner decides, and raises the
    count at moments that depend on timing: each episode more in flight, ~15 MB in the demo
    preset, raises the peak memory at a random step; issue 17.2).
    """
    weights = tf.constant(weights)

    def read(step_rows, path_indices, offsets):
        serialized = shard_reader.read_records_op(paths, path_indices, offsets)
        parsed = tfrecords.parse_segments(
            tf.ensure_shape(serialized, [width * segments_per_speaker]), feature_config)
        shape = [width, segments_per_speaker]
        return {"spectrogram": tf.reshape(parsed["spectrogram"], shape + [
                    feature_config.max_frames, feature_config.num_bins]),
                "labels": tf.reshape(_labels(parsed), shape + [len(labels.TASKS)]),
                "class_weights": tf.gather(weights, step_rows)}

    return planned.map(read, num_parallel_calls=read_parallelism or tf.data.AUTOTUNE,
                       deterministic=True).prefetch(2)


def episode_dataset(directory: str, manifest: dict, speakers, segments_per_speaker: int,
                    feature_config, num_classes: int, seed: int, epoch: int,
                    speakers_per_episode: int = 0, read_parallelism: int = 1) -> tf.data.Dataset:
    """The episodes of one epoch, deterministic in (seed, epoch).

    Args:
      directory, manifest: the prepared TFRecords.
      speakers: training speaker ids (the tasks).
      segments_per_speaker: B.
      feature_config: the spectrogram shape.
      num_classes: emotion classes (the class-weight width is max(num_classes, 4)).
      seed, epoch: select the speakers and segments (`episode_plan.epoch_plan`).
      speakers_per_episode: m; 0 (or >= len(speakers)) takes every speaker in every episode,
        otherwise each episode samples m distinct speakers.
      read_parallelism: episodes read at once (`TrainConfig.parallel_episode_reads`; 0: tuned
        by tf.data). The episodes do not depend on it.

    Returns:
      A finite dataset of episode dicts (see the module docstring),
      `episode_plan.steps_per_epoch` long. Training reads `run_episode_dataset` instead, which
      gives the same episodes epoch after epoch from one pipeline.

    Raises:
      DamagedShardError: a shard is truncated or of another size than prepare wrote (named).
    """
    speakers = list(speakers)
    steps = episode_plan.steps_per_epoch(manifest, speakers, segments_per_speaker)
    paths, records = _record_table(directory, manifest, speakers)
    planned = _planned_records(records, steps, segments_per_speaker, speakers_per_episode,
                               seed, epoch)
    return _read_episodes(tf.data.Dataset.from_tensor_slices(planned), paths,
                          _episode_width(speakers, speakers_per_episode), segments_per_speaker,
                          feature_config, class_weights(manifest, speakers, num_classes),
                          read_parallelism)


def run_episode_dataset(directory: str, manifest: dict, speakers, segments_per_speaker: int,
                        feature_config, num_classes: int, seed: int, start_epoch: int,
                        speakers_per_episode: int = 0, start_index: int = 0,
                        num_epochs: int = None, read_parallelism: int = 1) -> tf.data.Dataset:
    """The episodes of epochs `start_epoch`, `start_epoch + 1`, ... as one dataset (issue 17.2).

    Element k of epoch e is exactly element k of `episode_dataset(..., seed, e)`: the epoch is
    data of the pipeline (a counter), each epoch's plan is the same numpy `epoch_plan`, computed
    when the pipeline reaches that epoch, and one map and one prefetch read every epoch. So a
    run builds one pipeline and one iterator, not a fresh set of buffers per epoch.

    Args:
      directory, manifest, speakers, segments_per_speaker, feature_config, num_classes, seed,
        speakers_per_episode, read_parallelism: as `episode_dataset`.
      start_epoch: the first epoch.
      start_index: episodes of `start_epoch` to skip (a resumed run's position); skipped
        episodes are planned but not read.
      num_epochs: epochs from `start_epoch` (the skipped part included); None: without end.

    Returns:
      A dataset of episode dicts, `episode_plan.steps_per_epoch` per epoch.

    Raises:
      DamagedShardError: a shard is truncated or of another size than prepare wrote (named).
    """
    speakers = list(speakers)
    steps = episode_plan.steps_per_epoch(manifest, speakers, segments_per_speaker)
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
                          class_weights(manifest, speakers, num_classes), read_parallelism)


def speaker_segments(directory: str, manifest: dict, speaker: str, feature_config) -> dict:
    """All segments of one speaker in memory, in prepared order (for evaluation).

    Only the speaker's own records are read, by offset (`_record_table`): in a shard shared with
    other speakers, the records before its run are not read and discarded (BUILD.md "Evaluation":
    the last of 100 speakers of a 240 MB shard took 0.73 s cold and 0.19 s warm through a
    `TFRecordDataset` skipping to it; by offset, 0.23 s and 0.006 s).

    Returns:
      dict of numpy arrays: `spectrogram` float32 [N, frames, bins], `labels` int32 [N, 4],
      `utterance_id` bytes [N].

    Raises:
      DamagedShardError: a shard is truncated, fails a CRC check or holds another count of the
        speaker's records than the manifest says (named).
    """
    parts = {"spectrogram": [], "labels": [], "utterance_id": []}
    paths, (table,) = _record_table(directory, manifest, [speaker])
    for start in range(0, len(table), _EVALUATION_BATCH):
        chunk = table[start:start + _EVALUATION_BATCH]
        try:
            records = shard_reader.read_records(paths, chunk[:, 0], chunk[:, 1])
            parsed = tfrecords.parse_segments(tf.constant(list(records)), feature_config)
        except (ValueError, tf.errors.InvalidArgumentError) as error:
            raise shard_reader.damaged_shard_error(directory, manifest, [speaker], feature_config,
                                                   error) from None
        parts["spectrogram"].append(parsed["spectrogram"].numpy())
        parts["labels"].append(_labels(parsed).numpy())
        parts["utterance_id"].append(parsed["utterance_id"].numpy())
    return {name: np.concatenate(values) for name, values in parts.items()}

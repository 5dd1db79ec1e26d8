"""Speaker episodes: shapes, per-speaker content, epoch coverage, determinism, class weights, folds."""

import copy
import math
import os
import shutil

import numpy as np
import pytest
import tensorflow as tf

from mmtl_tf import atomic_files
from mmtl_tf import config as config_lib
from mmtl_tf import corpora
from mmtl_tf import episode_plan
from mmtl_tf import episodes
from mmtl_tf import folds
from mmtl_tf import shard_reader
from mmtl_tf import tfrecords
from mmtl_tf.bench import corpus_scale

# A feature shape small enough to write shards for many speakers in a moment: 9 frames x 8 bins.
TINY_FEATURES = config_lib.FeatureConfig(segment_seconds=0.05, window_ms=10.0, hop_ms=5.0,
                                         fft_length=256, num_bins=8, max_frames=9)


def _split(manifest):
    return folds.fold_split(manifest, fold=2, val_speaker="F")


def test_fold_holds_out_one_session(synthetic_shards):
    _, _, manifest = synthetic_shards
    split = _split(manifest)
    assert (split.validation, split.test) == ("2F", ("2M",))
    assert split.train == ("1F", "1M", "3F", "3M", "4F", "4M", "5F", "5M")
    assert folds.fold_split(manifest, 2, "M").validation == "2M"
    assert folds.fold_split(manifest, 2, "2M").test == ("2F",)


@pytest.mark.parametrize("fold, val_speaker, message", [
    (0, "F", "--fold=0"), (6, "F", "--fold=6"), (2, "X", "--val_speaker='X'")])
def test_bad_fold_or_val_speaker_is_a_flag_error(synthetic_shards, fold, val_speaker, message):
    with pytest.raises(ValueError, match=message):
        folds.fold_split(synthetic_shards[2], fold, val_speaker)


def test_class_weights_follow_the_paper_and_zero_missing_classes():
    manifest = {"speakers": {"a": {"histograms": {
        "emotion": [10, 5, 0, 2], "valence": [1, 1, 1, 1], "arousal": [0, 0, 4, 0],
        "dominance": [3, 6, 0, 0]}}}}
    weights = episodes.class_weights(manifest, ["a"], num_classes=4)[0]
    emotion = np.array([17 / 10, 17 / 5, 0, 17 / 2])
    np.testing.assert_allclose(weights[0], emotion / emotion.max(), rtol=1e-6)
    np.testing.assert_allclose(weights[1], [1, 1, 1, 1])
    np.testing.assert_allclose(weights[2], [0, 0, 1, 0])
    np.testing.assert_allclose(weights[3], [1, 0.5, 0, 0])
    assert np.isfinite(weights).all()


def test_episodes_have_fixed_shapes_and_each_row_is_one_speaker(synthetic_shards):
    directory, feature_config, manifest = synthetic_shards
    split = _split(manifest)
    batch = 4
    dataset = episodes.episode_dataset(directory, manifest, split.train, batch, feature_config,
                                       num_classes=4, seed=0, epoch=0)
    episode_list = list(dataset)
    largest = max(manifest["speakers"][s]["num_segments"] for s in split.train)
    assert len(episode_list) == math.ceil(largest / batch) == episode_plan.steps_per_epoch(
        manifest, split.train, batch)
    segments = {s: episodes.speaker_segments(directory, manifest, s, feature_config)
                for s in split.train}
    for episode in episode_list:
        assert episode["spectrogram"].shape == (8, batch, feature_config.max_frames,
                                                feature_config.num_bins)
        assert episode["labels"].shape == (8, batch, 4)
        assert episode["class_weights"].shape == (8, 4, 4)
        for row, speaker in enumerate(split.train):
            own = segments[speaker]["spectrogram"].reshape(len(segments[speaker]["spectrogram"]), -1)
            for item in episode["spectrogram"][row].numpy().reshape(batch, -1):
                assert np.any(np.all(own == item, axis=1)), f"row {row} holds a foreign segment"


def test_epoch_shows_the_largest_speaker_whole_and_is_seeded(synthetic_shards):
    directory, feature_config, manifest = synthetic_shards
    split = _split(manifest)
    counts = [manifest["speakers"][s]["num_segments"] for s in split.train]
    largest_row = int(np.argmax(counts))

    def epoch_rows(seed, epoch):
        dataset = episodes.episode_dataset(directory, manifest, split.train, 4, feature_config,
                                           4, seed=seed, epoch=epoch)
        return np.concatenate([e["spectrogram"][largest_row].numpy() for e in dataset])

    first = epoch_rows(0, 0)
    unique = np.unique(first.reshape(len(first), -1), axis=0)
    assert len(unique) == counts[largest_row]
    np.testing.assert_array_equal(first, epoch_rows(0, 0))
    assert not np.array_equal(first, epoch_rows(0, 1))


def test_sampled_speakers_per_episode(synthetic_shards):
    directory, feature_config, manifest = synthetic_shards
    split = _split(manifest)
    dataset = episodes.episode_dataset(directory, manifest, split.train, 2, feature_config, 4,
                                       seed=0, epoch=0, speakers_per_episode=3)
    full = episodes.class_weights(manifest, split.train, 4)
    for episode in dataset:
        assert episode["spectrogram"].shape[:2] == (3, 2)
        rows = [int(np.argmin(np.abs(full - w).sum(axis=(1, 2)))) for w in episode["class_weights"].numpy()]
        assert len(set(rows)) == 3


def test_speaker_with_no_segments_is_an_error_before_training(synthetic_shards):
    manifest = copy.deepcopy(synthetic_shards[2])
    manifest["speakers"]["3M"]["num_segments"] = 0
    with pytest.raises(ValueError, match="speaker 3M has no segments"):
        folds.fold_split(manifest, fold=2, val_speaker="F")


@pytest.mark.parametrize("change, message", [
    (lambda info: info.update(session="1"), "has a single session"),
    (lambda info: info["histograms"].update(emotion=[info["num_segments"], 0, 0, 0]),
     "every segment is of class neu"),
])
def test_a_corpus_with_one_session_or_one_class_cannot_make_folds(synthetic_shards, change,
                                                                  message):
    manifest = copy.deepcopy(synthetic_shards[2])
    for info in manifest["speakers"].values():
        change(info)
    with pytest.raises(ValueError, match=f"corpus synthetic.*{message}"):
        folds.fold_split(manifest, fold=1)


def test_epoch_plan_walks_each_speaker_whole_before_repeating_and_is_seeded():
    sizes = [5, 7, 3, 4]
    rows, segments = episode_plan.epoch_plan(sizes, steps=9, segments_per_speaker=2,
                                             speakers_per_episode=2, seed=3, epoch=1)
    assert rows.shape == (9, 2) and segments.shape == (9, 2, 2)
    assert all(len(set(step)) == 2 for step in rows)  # m distinct speakers per step
    for row, size in enumerate(sizes):
        walk = segments[rows == row].reshape(-1)  # this speaker's segments in step order
        for start in range(0, len(walk) - size + 1, size):
            assert sorted(walk[start:start + size]) == list(range(size))
    again = episode_plan.epoch_plan(sizes, 9, 2, 2, seed=3, epoch=1)
    np.testing.assert_array_equal(again[1], segments)
    assert not np.array_equal(episode_plan.epoch_plan(sizes, 9, 2, 2, seed=3, epoch=2)[1], segments)


def _many_speaker_shards(directory, num_speakers, segments_per_speaker=3):
    """Shards and manifest of `num_speakers` speakers (two per session) with TINY_FEATURES.

    Every segment of speaker i has its spectrogram filled with i (exact in float16 below 2048)
    and emotion i % 4.
    """
    speakers = {}
    os.makedirs(os.path.join(directory, "generation-0001"))
    for index in range(num_speakers):
        speaker = f"s{index:04d}"
        name = tfrecords.shard_name(speaker, 0, 1)
        path = os.path.join(directory, "generation-0001", name)
        with tf.io.TFRecordWriter(path) as writer:
            for segment in range(segments_per_speaker):
                utterance = corpora.Utterance(f"{speaker}_{segment}", "x.wav", speaker,
                                              str(index // 2), index % 4, 1, 2, 3)
                writer.write(tfrecords.serialize_segment(
                    utterance, segment, np.full((9, 8), index, np.float32), 9))
        histogram = [0] * 4
        histogram[index % 4] = segments_per_speaker
        speakers[speaker] = {
            "session": str(index // 2), "shards": [name],
            "shard_bytes": [os.path.getsize(path)], "num_segments": segments_per_speaker,
            "num_utterances": segments_per_speaker,
            "histograms": {"emotion": histogram, "valence": [0, 3, 0, 0],
                           "arousal": [0, 0, 3, 0], "dominance": [0, 0, 0, 3]}}
    manifest = {"format_version": tfrecords.FORMAT_VERSION, "corpus": "many",
                "feature_config": TINY_FEATURES.to_dict(), "generation": "generation-0001",
                "class_names": ["neu", "hap", "sad", "ang"], "aux_tasks": list(corpora.AUX_TASKS),
                "aux_available": {task: True for task in corpora.AUX_TASKS},
                "speakers": speakers}
    atomic_files.write_json(os.path.join(directory, tfrecords.MANIFEST_NAME), manifest)
    return tfrecords.load_manifest(directory, TINY_FEATURES)


def test_sampled_episodes_hold_the_planned_speakers_and_read_only_them(tmp_path):
    manifest = _many_speaker_shards(str(tmp_path), num_speakers=60)
    speakers = sorted(manifest["speakers"])
    dataset = episodes.episode_dataset(str(tmp_path), manifest, speakers, 2, TINY_FEATURES, 4,
                                       seed=5, epoch=2, speakers_per_episode=4)
    rows, _ = episode_plan.epoch_plan([3] * 60, 2, 2, 4, seed=5, epoch=2)
    weights = episodes.class_weights(manifest, speakers, 4)
    for step, episode in enumerate(dataset):
        assert episode["spectrogram"].shape == (4, 2, 9, 8)
        for slot, row in enumerate(rows[step]):
            values = episode["spectrogram"][slot].numpy()
            assert set(values.reshape(-1)) == {row}, "a row holds another speaker's segments"
            assert set(episode["labels"][slot, :, 0].numpy()) == {row % 4}
        np.testing.assert_array_equal(episode["class_weights"], weights[rows[step]])

    footprint = corpus_scale.pipeline_footprint(str(tmp_path), manifest, speakers, 2,
                                                TINY_FEATURES, 4, speakers_per_episode=4, steps=2)
    assert footprint["steps"] == 2 and footprint["startup_seconds"] > 0
    if footprint["open_shards_peak"] is not None:  # /proc exists: never one file per speaker
        assert footprint["open_shards_peak"] <= max(4, os.cpu_count())


def test_a_truncated_shard_is_named_before_the_epoch_starts(synthetic_shards, tmp_path):
    directory, feature_config, manifest = synthetic_shards
    copied = str(tmp_path / "shards")
    shutil.copytree(directory, copied)
    (shard,) = shard_reader.speaker_shard_paths(copied, manifest, "3F")
    with open(shard, "r+b") as handle:
        handle.truncate(os.path.getsize(shard) // 2)
    split = _split(manifest)
    with pytest.raises(shard_reader.DamagedShardError, match=f"{shard}: damaged TFRecord shard"):
        episodes.episode_dataset(copied, manifest, split.train, 4, feature_config, 4, 0, 0)
    with pytest.raises(shard_reader.DamagedShardError, match=f"{shard}: damaged TFRecord shard"):
        episodes.speaker_segments(copied, manifest, "3F", feature_config)


def test_a_record_that_fails_its_crc_stops_the_epoch_naming_the_shard(synthetic_shards, tmp_path):
    directory, feature_config, manifest = synthetic_shards
    copied = str(shutil.copytree(directory, tmp_path / "shards"))
    (shard,) = shard_reader.speaker_shard_paths(copied, manifest, "3F")
    ((first, count),) = shard_reader.speaker_record_runs(manifest, "3F")  # 3F's run in the shard
    with open(shard, "r+b") as handle:  # same size: only the CRC check can tell
        handle.seek(shard_reader.record_offsets(shard, copied)[first + count // 2] + 100)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0xFF]))
    split = _split(manifest)
    with pytest.raises(tf.errors.InvalidArgumentError, match=f"{shard}: damaged TFRecord shard") \
            as raised:
        for _ in episodes.episode_dataset(copied, manifest, split.train, 4, feature_config, 4,
                                          seed=0, epoch=0):
            pass
    error = shard_reader.damaged_shard_error(copied, manifest, split.train, feature_config,
                                             raised.value)
    assert isinstance(error, shard_reader.DamagedShardError) and str(error).startswith(shard)
    with pytest.raises(shard_reader.DamagedShardError, match=f"{shard}: damaged TFRecord shard"):
        episodes.speaker_segments(copied, manifest, "3F", feature_config)  # evaluation's read


def _bytes_read() -> int:
    """Bytes this process has read through system calls (page cache included)."""
    with open("/proc/self/io") as handle:
        return int(next(line for line in handle if line.startswith("rchar")).split()[1])


def test_a_held_out_speaker_reads_only_its_own_run_of_a_shared_shard(synthetic_shards):
    directory, feature_config, manifest = synthetic_shards
    (shard,) = shard_reader.speaker_shard_paths(directory, manifest, "5M")
    ((first, count),) = shard_reader.speaker_record_runs(manifest, "5M")
    assert first > 100  # the last run of the corpus' one shared shard
    everything = tfrecords.parse_segments(
        tf.constant([record.numpy() for record in tf.data.TFRecordDataset(shard)]),
        feature_config)
    for speaker in manifest["speakers"]:  # each speaker's run, to the bit, in prepared order
        got = episodes.speaker_segments(directory, manifest, speaker, feature_config)
        ((start, size),) = shard_reader.speaker_record_runs(manifest, speaker)
        assert len(got["labels"]) == size == manifest["speakers"][speaker]["num_segments"]
        np.testing.assert_array_equal(got["spectrogram"],
                                      everything["spectrogram"].numpy()[start:start + size])
        np.testing.assert_array_equal(got["utterance_id"],
                                      everything["utterance_id"].numpy()[start:start + size])
    if not os.path.exists("/proc/self/io"):
        pytest.skip("no /proc/self/io to count the bytes read")
    offsets = shard_reader.record_offsets(shard, directory)  # the header scan, cached
    own = offsets[first + count - 1] - offsets[first] + (os.path.getsize(shard)
                                                          - offsets[-1])
    before = _bytes_read()
    episodes.speaker_segments(directory, manifest, "5M", feature_config)
    read = _bytes_read() - before
    assert read < 1.5 * own, (read, own, os.path.getsize(shard))  # not the 156 records before


"""Speaker episodes: shapes, per-speaker content, epoch coverage, determinism, class weights, folds."""

import math

import numpy as np
import pytest

from mmtl_tf import episodes


def _split(manifest):
    return episodes.fold_split(manifest, fold=2, val_speaker="F")


def test_fold_holds_out_one_session(synthetic_shards):
    _, _, manifest = synthetic_shards
    split = _split(manifest)
    assert (split.validation, split.test) == ("2F", "2M")
    assert split.train == ("1F", "1M", "3F", "3M", "4F", "4M", "5F", "5M")
    assert episodes.fold_split(manifest, 2, "M").validation == "2M"
    assert episodes.fold_split(manifest, 2, "2M").test == "2F"


@pytest.mark.parametrize("fold, val_speaker, message", [
    (0, "F", "--fold=0"), (6, "F", "--fold=6"), (2, "X", "--val_speaker='X'")])
def test_bad_fold_or_val_speaker_is_a_flag_error(synthetic_shards, fold, val_speaker, message):
    with pytest.raises(ValueError, match=message):
        episodes.fold_split(synthetic_shards[2], fold, val_speaker)


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
    assert len(episode_list) == math.ceil(largest / batch) == episodes.steps_per_epoch(
        manifest, split.train, batch)
    segments = {s: episodes.speaker_segments(directory, manifest, s, feature_config)
                for s in split.train}
    for episode in episode_list:
        assert episode["spectrogram"].shape == (8, batch, 300, 200)
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
    import copy

    manifest = copy.deepcopy(synthetic_shards[2])
    manifest["speakers"]["3M"]["num_segments"] = 0
    with pytest.raises(ValueError, match="speaker 3M has no segments"):
        episodes.fold_split(manifest, fold=2, val_speaker="F")

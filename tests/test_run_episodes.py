"""One episode pipeline per run (issue 17.2): `episodes.run_episode_dataset` and the training
stream give exactly the episodes of the per-epoch `episode_dataset`, epoch after epoch, and a
resumed stream exactly those of an uninterrupted one."""

import itertools

import numpy as np
import pytest

from mmtl_tf import config as config_lib
from mmtl_tf import episode_plan
from mmtl_tf import episodes
from mmtl_tf import folds
from mmtl_tf import schedule as schedule_lib
from mmtl_tf import training

KEYS = ("spectrogram", "labels", "class_weights")


def _arrays(dataset_or_episodes):
    """{key: stacked numpy array} over the episodes."""
    listed = list(dataset_or_episodes)
    return {key: np.stack([episode[key].numpy() for episode in listed]) for key in KEYS}


def _assert_same(actual, expected):
    for key in KEYS:
        assert actual[key].dtype == expected[key].dtype, key
        np.testing.assert_array_equal(actual[key], expected[key], err_msg=key)


def _from_plan(directory, manifest, speakers, batch, feature_config, m, seed, epoch):
    """Epoch `epoch` built in numpy from `epoch_plan` and each speaker's segments in memory."""
    segments = {s: episodes.speaker_segments(directory, manifest, s, feature_config)
                for s in speakers}
    steps = episode_plan.steps_per_epoch(manifest, speakers, batch)
    sizes = [manifest["speakers"][s]["num_segments"] for s in speakers]
    rows, chosen = episode_plan.epoch_plan(sizes, steps, batch, m, seed, epoch)
    weights = episodes.class_weights(manifest, speakers, 4)
    return {"spectrogram": np.stack([np.stack([segments[speakers[row]]["spectrogram"][chosen[step, slot]]
                                               for slot, row in enumerate(rows[step])])
                                     for step in range(steps)]),
            "labels": np.stack([np.stack([segments[speakers[row]]["labels"][chosen[step, slot]]
                                          for slot, row in enumerate(rows[step])])
                                for step in range(steps)]),
            "class_weights": weights[rows]}


@pytest.mark.parametrize("m, start_epoch, start_index", [(0, 0, 0), (3, 1, 2)])
def test_run_dataset_is_the_per_epoch_datasets_one_after_another(synthetic_shards, m,
                                                                  start_epoch, start_index):
    directory, feature_config, manifest = synthetic_shards
    speakers = list(folds.fold_split(manifest, 2).train)
    batch, seed, epochs = 2, 7, 3
    steps = episode_plan.steps_per_epoch(manifest, speakers, batch)
    assert steps > start_index + 1  # the start is mid-epoch
    per_epoch = [_arrays(episodes.episode_dataset(directory, manifest, speakers, batch,
                                                  feature_config, 4, seed, epoch, m))
                 for epoch in range(start_epoch, start_epoch + epochs)]
    for epoch, arrays in zip(range(start_epoch, start_epoch + epochs), per_epoch):
        _assert_same(arrays, _from_plan(directory, manifest, speakers, batch, feature_config, m,
                                        seed, epoch))
    expected = {key: np.concatenate([arrays[key] for arrays in per_epoch])[start_index:]
                for key in KEYS}
    # Episodes read at once (--parallel_episode_reads: 1, 3, or 0 for tf.data's autotuner) do
    # not change the episodes.
    finite = episodes.run_episode_dataset(directory, manifest, speakers, batch, feature_config, 4,
                                          seed, start_epoch, m, start_index, num_epochs=epochs,
                                          read_parallelism=3)
    _assert_same(_arrays(finite), expected)
    endless = episodes.run_episode_dataset(directory, manifest, speakers, batch, feature_config,
                                           4, seed, start_epoch, m, start_index,
                                           read_parallelism=0)
    _assert_same(_arrays(endless.take(epochs * steps - start_index)), expected)


def test_resumed_stream_sees_the_episodes_of_an_uninterrupted_one(synthetic_shards):
    directory, feature_config, manifest = synthetic_shards
    split = folds.fold_split(manifest, 2)
    experiment = config_lib.ExperimentConfig(
        features=feature_config, model=config_lib.ModelConfig(),
        train=config_lib.TrainConfig(segments_per_speaker=2, speakers_per_episode=3, seed=3),
        tfrecord_dir=directory, run_dir="")
    steps = episode_plan.steps_per_epoch(manifest, split.train, 2)
    schedule = schedule_lib.make_schedule(0, 0, 3, steps)
    total = 3 * steps

    def stream(start_step):
        return _arrays(itertools.islice(training._episode_stream(  # pylint: disable=protected-access
            experiment, manifest, split, 4, schedule, start_step), total - start_step))

    whole = stream(0)
    for start_step in (1, steps, steps + steps // 2):
        _assert_same(stream(start_step), {key: value[start_step:] for key, value in whole.items()})

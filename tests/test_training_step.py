"""The compiled outer step: traced once for changing data, and never applies a non-finite update."""

import numpy as np
import pytest
import tensorflow as tf

from mmtl_tf import config, training

TINY = config.ModelConfig(conv_filters=(3, 4), conv_kernels=((5, 3), (3, 3)), lstm_units=5,
                          fc_units=6, num_frames=24, num_bins=16)


def _episode(rng, speakers=4, segments=5):
    return {"spectrogram": tf.constant(rng.normal(size=(speakers, segments, 24, 16)).astype("float32")),
            "labels": tf.constant(rng.integers(0, 4, size=(speakers, segments, 4)).astype("int32")),
            "class_weights": tf.constant(rng.uniform(0.2, 1, size=(speakers, 4, 4)).astype("float32"))}


def _training(model="mmtl", outer_update="first_order"):
    experiment = config.ExperimentConfig(
        features=config.FeatureConfig(), model=TINY,
        train=config.TrainConfig(model=model, outer_update=outer_update), tfrecord_dir="", run_dir="")
    algorithm, optimizers, _, _ = training.build_training(experiment, 4)
    return algorithm, training.make_train_step(algorithm, optimizers, 4)


@pytest.mark.parametrize("model, outer_update", [("mmtl", "first_order"), ("mmtl", "reference"),
                                                 ("mtl", "first_order"), ("cnn_lstm", "first_order")])
def test_step_is_traced_once_over_changing_data(model, outer_update):
    algorithm, step = _training(model, outer_update)
    rng = np.random.default_rng(0)
    before = [v.numpy().copy() for v in algorithm.meta_variables()]
    for _ in range(4):
        losses, finite = step(_episode(rng))
        assert bool(finite)
    assert step.traced_function.experimental_get_tracing_count() == 1
    after = [v.numpy() for v in algorithm.meta_variables()]
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))


def test_non_finite_step_is_not_applied_and_names_the_speaker():
    algorithm, step = _training()
    rng = np.random.default_rng(1)
    step(_episode(rng))
    before = [v.numpy().copy() for v in algorithm.meta_variables() + algorithm.head_variables()]
    episode = _episode(rng)
    spectrogram = episode["spectrogram"].numpy()
    spectrogram[2, 0, 0, 0] = np.nan  # speaker 2 gets a NaN segment
    episode["spectrogram"] = tf.constant(spectrogram)
    losses, finite = step(episode)
    assert not bool(finite)
    after = [v.numpy() for v in algorithm.meta_variables() + algorithm.head_variables()]
    assert all(np.array_equal(a, b) for a, b in zip(before, after))
    assert training.failing_speaker(losses) == 2


def test_mixed_bfloat16_step_matches_float32_gradients():
    """The policy --mixed_precision sets on a GPU, run here on the CPU: same outer gradient, roughly."""
    import keras

    from mmtl_tf.algorithms import build_algorithm

    rng = np.random.default_rng(5)
    episode = _episode(rng)
    train_config = config.TrainConfig()
    results = {}
    for policy in ("float32", "mixed_bfloat16"):
        keras.mixed_precision.set_global_policy(policy)
        try:
            keras.utils.set_random_seed(3)
            algorithm = build_algorithm(TINY, train_config, 4)
            updates, losses = algorithm.step_updates(algorithm.meta_weights(), algorithm.head_weights(),
                                                     episode, episode["class_weights"], 4)
        finally:
            keras.mixed_precision.set_global_policy("float32")
        assert all(v.dtype == "float32" for v in algorithm.meta_variables())
        results[policy] = (np.concatenate([np.ravel(g) for g in updates["outer"]]), losses["query_loss"].numpy())
    full, mixed = results["float32"], results["mixed_bfloat16"]
    assert np.isfinite(mixed[0]).all()
    np.testing.assert_allclose(mixed[1], full[1], rtol=0.05)
    cosine = float(mixed[0] @ full[0] / (np.linalg.norm(mixed[0]) * np.linalg.norm(full[0])))
    assert cosine > 0.95, cosine

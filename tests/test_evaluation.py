"""Meta-test: adaptation steps against a manual computation, utterance averaging, UA/WA."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from mmtl_tf import config, evaluation
from mmtl_tf.algorithms import build_algorithm

TINY = config.ModelConfig(conv_filters=(3, 4), conv_kernels=((5, 3), (3, 3)), lstm_units=5,
                          fc_units=6, num_frames=24, num_bins=16)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_adaptation_takes_the_steps_on_the_auxiliary_loss(optimizer):
    keras.utils.set_random_seed(4)
    algorithm = build_algorithm(TINY, config.TrainConfig(aux_tasks=("valence", "arousal")), 4)
    rng = np.random.default_rng(0)
    segments = {"spectrogram": rng.normal(size=(9, 24, 16)).astype("float32"),
                "labels": rng.integers(0, 4, size=(9, 4)).astype("int32")}
    class_weights = rng.uniform(0.3, 1.0, size=(4, 4)).astype("float32")
    rate, steps, batch = 0.05, 3, 4
    evaluator = evaluation.SpeakerEvaluator(algorithm, rate, steps, batch, seed=0, optimizer=optimizer)
    batches = evaluator._batches(9)
    weights = class_weights[np.arange(4)[None, :], segments["labels"]]  # w'_{y} per segment, task
    adapted = evaluator._adapt(algorithm.meta_weights(), algorithm.head_weights(),
                               tf.constant(segments["spectrogram"]), tf.constant(segments["labels"]),
                               tf.constant(weights), tf.constant(batches))

    # Manual: a cloned meta learner, eager tapes, a fresh Keras optimizer (or plain SGD).
    meta = keras.models.clone_model(algorithm.meta.model)
    meta.set_weights(algorithm.meta.model.get_weights())
    manual_optimizer = keras.optimizers.Adam(rate, epsilon=1e-7) if optimizer == "adam" else None
    for index in batches:
        x, y, w = segments["spectrogram"][index], segments["labels"][index], weights[index]
        with tf.GradientTape() as tape:
            logits = meta(x)
            losses = [tf.reduce_mean(w[:, task] * keras.losses.sparse_categorical_crossentropy(
                y[:, task], logits, from_logits=True)) for task in (1, 2)]
            loss = (losses[0] + losses[1]) / 2
        gradients = tape.gradient(loss, meta.trainable_variables)
        if manual_optimizer:
            manual_optimizer.apply_gradients(zip(gradients, meta.trainable_variables))
        else:
            for variable, gradient in zip(meta.trainable_variables, gradients):
                variable.assign_sub(rate * gradient)
    for mine, expected in zip(adapted, meta.trainable_variables):
        np.testing.assert_allclose(np.asarray(mine), expected.numpy(), rtol=1e-4, atol=1e-6)
    assert any(not np.allclose(a, b.numpy()) for a, b in zip(adapted, algorithm.meta_variables()))


def test_utterance_posterior_is_the_mean_of_its_segments():
    probabilities = np.array([[0.6, 0.4], [0.1, 0.9], [0.2, 0.8], [0.7, 0.3]])
    segments = {"utterance_id": np.array([b"a", b"a", b"b", b"c"]),
                "labels": np.array([[0, 0, 0, 0], [0, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0]])}
    metrics = evaluation.utterance_metrics(probabilities, segments, ["x", "y"])
    # a: mean (0.35, 0.65) -> y (wrong); b -> y (right); c -> x (wrong)
    assert metrics["confusion"] == [[0, 1], [1, 1]]
    assert metrics["wa"] == pytest.approx(1 / 3)
    assert metrics["ua"] == pytest.approx((0 + 0.5) / 2)


def test_ua_averages_only_classes_present():
    metrics = evaluation.classification_metrics([0, 0, 2, 2], [0, 1, 2, 2], ["a", "b", "c"])
    assert metrics["per_class_recall"] == {"a": 0.5, "b": None, "c": 1.0}
    assert metrics["ua"] == pytest.approx(0.75) and metrics["wa"] == pytest.approx(0.75)

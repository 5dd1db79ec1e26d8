"""Meta-test: adaptation steps against a manual computation, utterance averaging, UA/WA."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from mmtl_tf import config, evaluation
from mmtl_tf.algorithms import build_algorithm

TINY = config.ModelConfig(conv_filters=(3, 4), conv_kernels=((5, 3), (3, 3)), lstm_units=5,
                          fc_units=6, num_frames=24, num_bins=16)


def _manual_adaptation(algorithm, segments, weights, batches, rate, optimizer):
    """The adapted meta weights by hand: a cloned meta learner, eager tapes, a fresh Keras
    optimizer (or plain SGD)."""
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
    return [variable.numpy() for variable in meta.trainable_variables]


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_adaptation_takes_the_steps_on_the_auxiliary_loss(optimizer):
    """Two algorithms of one configuration (two folds of `--fold=all`): the second evaluator
    reuses the first one's traced functions (no retrace per fold) and still adapts and scores
    its own weights."""
    train = config.TrainConfig(aux_tasks=("valence", "arousal"))
    rng = np.random.default_rng(0)
    segments = {"spectrogram": rng.normal(size=(9, 24, 16)).astype("float32"),
                "labels": rng.integers(0, 4, size=(9, 4)).astype("int32")}
    class_weights = rng.uniform(0.3, 1.0, size=(4, 4)).astype("float32")
    weights = class_weights[np.arange(4)[None, :], segments["labels"]]  # w'_{y} per segment, task
    rate, steps, batch = 0.05, 3, 4
    evaluators = []
    for seed in (4, 5):
        keras.utils.set_random_seed(seed)
        algorithm = build_algorithm(TINY, train, 4)
        evaluator = evaluation.SpeakerEvaluator(algorithm, rate, steps, batch, seed=0,
                                                optimizer=optimizer)
        evaluators.append(evaluator)
        batches = evaluator.adaptation_batches(9)
        assert batches.shape == (steps, batch) and sorted(batches.ravel()[:9]) == list(range(9))
        adapted = evaluator.adapted_weights(segments, class_weights)
        expected = _manual_adaptation(algorithm, segments, weights, batches, rate, optimizer)
        for mine, theirs in zip(adapted, expected):
            np.testing.assert_allclose(np.asarray(mine), theirs, rtol=1e-4, atol=1e-6)
        assert any(not np.allclose(a, b.numpy()) for a, b in zip(adapted, algorithm.meta_variables()))
        # the shared logits function scores this algorithm's weights, as an eager call does
        theta, phi = algorithm.meta_weights(), algorithm.head_weights()
        np.testing.assert_allclose(
            evaluator.segment_probabilities(theta, phi, segments["spectrogram"]),
            tf.nn.softmax(algorithm.emotion_logits(theta, phi, segments["spectrogram"])).numpy(),
            rtol=1e-5, atol=1e-6)
    first, second = evaluators
    assert second._adapt is first._adapt and second._logits is first._logits
    assert first._adapt.experimental_get_tracing_count() == 1
    assert first._logits.experimental_get_tracing_count() == 1


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


def test_default_adaptation_changes_a_trained_models_predictions():
    """The default meta-test (Eq. 4's step, size alpha) moves a trained model measurably."""
    import trained_run
    from mmtl_tf import episodes, tfrecords, trained_model

    algorithm, record = trained_model.load_trained(trained_run.run_dir())
    manifest = tfrecords.load_manifest(record["experiment"]["tfrecord_dir"], trained_run.FEATURE_CONFIG)
    segments = episodes.speaker_segments(record["experiment"]["tfrecord_dir"], manifest,
                                         record["test_speaker"], trained_run.FEATURE_CONFIG)
    weights = episodes.class_weights(manifest, [record["test_speaker"]], 4)[0]
    default = config.TrainConfig()
    assert (default.test_adapt_optimizer, default.adapt_learning_rate) == ("sgd", default.meta_learning_rate)

    def posteriors(rate, steps):
        evaluator = evaluation.SpeakerEvaluator(algorithm, rate, steps, 4, seed=0)
        theta = evaluator.adapted_weights(segments, weights)
        return evaluator.segment_probabilities(theta, algorithm.head_weights(), segments["spectrogram"])

    plain = posteriors(default.adapt_learning_rate, 0)
    adapted = posteriors(default.adapt_learning_rate, default.test_adapt_steps)
    old_default = posteriors(default.outer_learning_rate, default.test_adapt_steps)  # gamma
    change, old_change = np.abs(adapted - plain).max(), np.abs(old_default - plain).max()
    assert change > 1e-3, change
    assert change > 3 * old_change  # alpha = 10 gamma: gradient steps scale with the rate


def test_diverged_adaptation_is_an_error_not_class_zero():
    """NaN posteriors would argmax to class 0 for every utterance and score a plausible UA; the
    evaluator refuses them, naming the speaker's utterance and the flags to change."""
    keras.utils.set_random_seed(4)
    algorithm = build_algorithm(TINY, config.TrainConfig(aux_tasks=("valence", "arousal")), 4)
    rng = np.random.default_rng(0)
    segments = {"spectrogram": rng.normal(size=(9, 24, 16)).astype("float32"),
                "labels": rng.integers(0, 4, size=(9, 4)).astype("int32"),
                "utterance_id": np.array([b"Ses01F_a", b"Ses01F_b", b"Ses01F_c"] * 3)}
    class_weights = np.ones((4, 4), "float32")
    finite = evaluation.SpeakerEvaluator(algorithm, 0.05, 2, 4, seed=0)
    assert finite.evaluate(segments, class_weights, ("a", "b", "c", "d"))["adapted"]["utterances"] == 3
    diverging = evaluation.SpeakerEvaluator(algorithm, float("inf"), 2, 4, seed=0)
    with pytest.raises(evaluation.NonFiniteEvaluationError,
                       match="utterance Ses01F_a after the meta-test adaptation .2 sgd steps at "
                             "learning rate inf.*--test_adapt_learning_rate"):
        diverging.evaluate(segments, class_weights, ("a", "b", "c", "d"))

"""The MMTL outer step (Eq. 4-7) against an independent eager computation.

The reference below is written separately from `mmtl_tf.algorithms`: it clones the Keras models
per speaker, runs plain eager GradientTapes, takes the inner steps by assigning to the cloned
variables, and gathers class weights with numpy. Gradients are compared, not weights after an
Adam step (Adam's first step is ~ -lr * sign(g) and would hide a gradient of the wrong size).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from mmtl_tf import config as config_lib
from mmtl_tf.algorithms import build_algorithm

TINY = config_lib.ModelConfig(conv_filters=(3, 4), conv_kernels=((5, 3), (3, 3)), lstm_units=5,
                              fc_units=6, num_frames=24, num_bins=16)
SPEAKERS, SEGMENTS, CLASSES = 3, 5, 4
AUX = ("valence", "dominance")
ALPHA, BETA = 0.05, 0.2


def _episode(seed=0):
    rng = np.random.default_rng(seed)
    spectrogram = rng.normal(size=(SPEAKERS, SEGMENTS, TINY.num_frames, TINY.num_bins)).astype("float32")
    labels = rng.integers(0, 4, size=(SPEAKERS, SEGMENTS, 4)).astype("int32")
    class_weights = rng.uniform(0.2, 1.0, size=(SPEAKERS, 4, CLASSES)).astype("float32")
    class_weights[0, 2, 3] = 0.0  # a class speaker 0 lacks
    return {"spectrogram": spectrogram, "labels": labels}, class_weights


def _weighted_ce(logits, labels, weights_row):
    """Independent weighted CE: numpy gathers the weights, Keras computes the CE."""
    per_segment = keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    return tf.reduce_mean(tf.constant(weights_row[labels]) * per_segment)


def _clone(model):
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def _reference(algorithm, episode, class_weights, reptile_rate):
    """Per-speaker stages on cloned models; returns speaker means of every gradient."""
    aux_columns = [1 + ("valence", "arousal", "dominance").index(task) for task in AUX]
    sums = {}
    for i in range(SPEAKERS):
        meta, head = _clone(algorithm.meta.model), _clone(algorithm.head.model)
        x = tf.constant(episode["spectrogram"][i])
        y = episode["labels"][i]
        with tf.GradientTape() as tape:
            logits = meta(x)
            loss = sum(_weighted_ce(logits, y[:, c], class_weights[i, c]) for c in aux_columns) / len(aux_columns)
        g_support = tape.gradient(loss, meta.trainable_variables)
        for variable, gradient in zip(meta.trainable_variables, g_support):
            variable.assign_sub(ALPHA * gradient)                     # Eq. 4
        features = meta(x)
        with tf.GradientTape() as tape:
            loss = _weighted_ce(head(features), y[:, 0], class_weights[i, 0])
        g_transfer = tape.gradient(loss, head.trainable_variables)
        for variable, gradient in zip(head.trainable_variables, g_transfer):
            variable.assign_sub(BETA * gradient)                      # Eq. 5
        with tf.GradientTape() as tape:
            loss = _weighted_ce(head(meta(x)), y[:, 0], class_weights[i, 0])
        all_variables = meta.trainable_variables + head.trainable_variables
        g_outer = tape.gradient(loss, all_variables)                  # Eq. 6-7, first order
        # Reptile: theta - theta''_i is the sum of the steps taken from theta (Eq. 4 or 5, then
        # one SGD step on L^Q_i), summed in float64: subtracting float32 weights would lose the
        # small difference to rounding.
        first_steps = [ALPHA * np.float64(g) for g in g_support] + [BETA * np.float64(g) for g in g_transfer]
        reptile = [step + reptile_rate * np.float64(g) for step, g in zip(first_steps, g_outer)]
        for name, grads in (("support", g_support), ("transfer", g_transfer),
                            ("outer", g_outer), ("reptile", reptile)):
            grads = [np.asarray(g) for g in grads]
            sums[name] = grads if name not in sums else [a + b for a, b in zip(sums[name], grads)]
    return {name: [g / SPEAKERS for g in grads] for name, grads in sums.items()}


def _assert_close(actual, expected, what):
    assert len(actual) == len(expected)
    for index, (a, e) in enumerate(zip(actual, expected)):
        a, e = np.asarray(a), np.asarray(e)
        relative = np.linalg.norm(a - e) / max(np.linalg.norm(e), 1e-12)
        assert relative < 1e-5, f"{what}[{index}] relative error {relative:.2e}"


@pytest.mark.parametrize("outer_update", ["first_order", "reptile", "reference"])
def test_outer_step_matches_eager_copies(outer_update):
    keras.utils.set_random_seed(1)
    train_config = config_lib.TrainConfig(aux_tasks=AUX, outer_update=outer_update,
                                          meta_learning_rate=ALPHA, transfer_learning_rate=BETA,
                                          reptile_inner_learning_rate=0.3, reptile_step_size=0.5)
    algorithm = build_algorithm(TINY, train_config, CLASSES)
    episode, class_weights = _episode()

    @tf.function
    def step(episode, class_weights):
        return algorithm.step_updates(algorithm.meta_weights(), algorithm.head_weights(), episode,
                                      class_weights, SPEAKERS)

    updates, losses = step(episode, class_weights)
    expected = _reference(algorithm, episode, class_weights, reptile_rate=0.3)
    theta_count = len(algorithm.meta_variables())
    assert losses["query_loss"].shape == (SPEAKERS,)
    if outer_update == "reptile":
        _assert_close(updates["outer"], expected["reptile"], "reptile direction")
        return
    _assert_close(updates["outer"], expected["outer"], "outer gradient")
    if outer_update == "reference":
        _assert_close(updates["multi_train"][:theta_count], expected["support"], "Eq. 4 gradient")
        _assert_close(updates["transfer"][theta_count:], expected["transfer"], "Eq. 5 gradient")
        assert all(g is None for g in updates["multi_train"][theta_count:])


def test_outer_gradient_is_not_plain_emotion_gradient():
    """The outer gradient is taken at (theta'_i, phi'_i), so it differs from the gradient at theta."""
    keras.utils.set_random_seed(2)
    algorithm = build_algorithm(TINY, config_lib.TrainConfig(aux_tasks=AUX), CLASSES)
    episode, class_weights = _episode(seed=3)
    updates, _ = algorithm.step_updates(algorithm.meta_weights(), algorithm.head_weights(),
                                        episode, class_weights, SPEAKERS)
    meta, head = algorithm.meta.model, algorithm.head.model
    plain = None
    for i in range(SPEAKERS):
        with tf.GradientTape() as tape:
            loss = _weighted_ce(head(meta(episode["spectrogram"][i])), episode["labels"][i][:, 0],
                                class_weights[i, 0])
        grads = [g.numpy() / SPEAKERS for g in tape.gradient(loss, meta.trainable_variables)]
        plain = grads if plain is None else [a + b for a, b in zip(plain, grads)]
    outer = updates["outer"][: len(plain)]
    differences = [np.linalg.norm(np.asarray(a) - b) / np.linalg.norm(b) for a, b in zip(outer, plain)]
    assert max(differences) > 1e-3


def test_reference_mode_builds_every_adam_with_gamma_as_the_authors_code():
    train_config = config_lib.TrainConfig(aux_tasks=AUX, outer_update="reference",
                                          meta_learning_rate=0.01, transfer_learning_rate=0.02,
                                          outer_learning_rate=0.001)
    optimizers = build_algorithm(TINY, train_config, CLASSES).build_optimizers()
    assert sorted(optimizers) == ["multi_train", "outer", "transfer"]
    for optimizer in optimizers.values():
        assert isinstance(optimizer, keras.optimizers.Adam)
        assert float(optimizer.learning_rate) == pytest.approx(0.001)

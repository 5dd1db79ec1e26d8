"""The compiled outer step: traced once for changing data, and never applies a non-finite update."""

import numpy as np
import pytest
import tensorflow as tf

from mmtl_tf import checkpoints, config, training

TINY = config.ModelConfig(conv_filters=(3, 4), conv_kernels=((5, 3), (3, 3)), lstm_units=5,
                          fc_units=6, num_frames=24, num_bins=16)


def _episode(rng, speakers=4, segments=5):
    return {"spectrogram": tf.constant(rng.normal(size=(speakers, segments, 24, 16)).astype("float32")),
            "labels": tf.constant(rng.integers(0, 4, size=(speakers, segments, 4)).astype("int32")),
            "class_weights": tf.constant(rng.uniform(0.2, 1, size=(speakers, 4, 4)).astype("float32"))}


def _training(model="mmtl", outer_update="first_order", parallel_speakers=10):
    experiment = config.ExperimentConfig(
        features=config.FeatureConfig(), model=TINY,
        train=config.TrainConfig(model=model, outer_update=outer_update,
                                 parallel_speakers=parallel_speakers),
        tfrecord_dir="", run_dir="")
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


def _loop_parallelism(concrete_function) -> set:
    """parallel_iterations of every while-loop in a traced function (and the functions it calls)."""
    graph_def = concrete_function.graph.as_graph_def()
    nodes = list(graph_def.node) + [node for function in graph_def.library.function
                                    for node in function.node_def]
    return {node.attr["parallel_iterations"].i for node in nodes
            if node.op in ("While", "StatelessWhile")}


def test_speakers_one_at_a_time_give_the_same_steps_and_set_the_loop():
    """--parallel_speakers=1 only stops the speaker loop's iterations from overlapping: three
    outer steps from the same start give the same losses and weights, and the traced speaker
    loop carries parallel_iterations 1 (TensorFlow's 10 by default)."""
    import keras

    runs = {}
    for parallel in (10, 1):
        keras.utils.set_random_seed(3)
        algorithm, step = _training(parallel_speakers=parallel)
        rng = np.random.default_rng(2)
        losses = [step(_episode(rng))[0] for _ in range(3)]
        concrete = step.traced_function.get_concrete_function(_episode(rng))
        assert step.traced_function.experimental_get_tracing_count() == 1
        runs[parallel] = (losses, [v.numpy() for v in algorithm.meta_variables()],
                          _loop_parallelism(concrete))
    assert 1 in runs[1][2] and 1 not in runs[10][2] and 10 in runs[10][2]
    for mine, other in zip(runs[1][0], runs[10][0]):
        for name in mine:
            np.testing.assert_array_equal(mine[name].numpy(), other[name].numpy())
    for mine, other in zip(runs[1][1], runs[10][1]):
        np.testing.assert_array_equal(mine, other)


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


def test_a_checkpoint_from_before_elapsed_seconds_still_resumes(tmp_path):
    """A run checkpointed before the training time was kept resumes its counters and weights;
    its earlier time counts as 0, and the checkpoint the run writes from then on keeps it."""
    experiment = config.ExperimentConfig(features=config.FeatureConfig(), model=TINY,
                                         train=config.TrainConfig(), tfrecord_dir="", run_dir="")
    algorithm, optimizers, state, _ = training.build_training(experiment, 4)
    state["step"].assign(7)
    older = checkpoints.run_checkpoint(algorithm, optimizers, state, omit=(checkpoints.ELAPSED,))
    path = older.save(str(tmp_path / "older" / "ckpt"))
    weights = [v.numpy() for v in algorithm.meta_variables()]
    algorithm, optimizers, state, checkpoint = training.build_training(experiment, 4)
    for variable in algorithm.meta_variables():
        variable.assign(tf.zeros_like(variable))
    checkpoints.restore_run(algorithm, optimizers, state, checkpoint, path)
    assert int(state["step"].numpy()) == 7 and float(state[checkpoints.ELAPSED].numpy()) == 0.0
    for expected, variable in zip(weights, algorithm.meta_variables()):
        np.testing.assert_array_equal(variable.numpy(), expected)
    state[checkpoints.ELAPSED].assign(12.5)
    newer = checkpoint.save(str(tmp_path / "newer" / "ckpt"))
    state[checkpoints.ELAPSED].assign(0.0)
    checkpoints.restore_run(algorithm, optimizers, state, checkpoint, newer)
    assert float(state[checkpoints.ELAPSED].numpy()) == 12.5

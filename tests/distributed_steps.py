"""Runs a few MMTL outer steps under a tf.distribute strategy and prints the weights as JSON.

Used by tests/test_distribution.py in subprocesses (logical devices and TF_CONFIG must be set
before TensorFlow starts). Usage: python distributed_steps.py STRATEGY NUM_CPU_DEVICES OUTER_UPDATE
"""

import json
import sys

import numpy as np

from mmtl_tf import distribution


def main(strategy_name, num_cpu_devices, outer_update):
    strategy = distribution.build_strategy(strategy_name, num_cpu_devices)
    import tensorflow as tf

    from mmtl_tf import config, training
    tf.config.experimental.enable_op_determinism()
    model = config.ModelConfig(conv_filters=(3, 4), conv_kernels=((5, 3), (3, 3)), lstm_units=5,
                               fc_units=6, num_frames=24, num_bins=16)
    experiment = config.ExperimentConfig(features=config.FeatureConfig(), model=model,
                                         train=config.TrainConfig(outer_update=outer_update),
                                         tfrecord_dir="", run_dir="")
    with strategy.scope():
        algorithm, optimizers, _, _ = training.build_training(experiment, 4)
    step = training.make_train_step(algorithm, optimizers, 4, strategy=strategy)
    rng = np.random.default_rng(0)
    for _ in range(3):
        episode = {"spectrogram": rng.normal(size=(4, 5, 24, 16)).astype("float32"),
                   "labels": rng.integers(0, 4, size=(4, 5, 4)).astype("int32"),
                   "class_weights": rng.uniform(0.2, 1, size=(4, 4, 4)).astype("float32")}
        losses, finite = step({name: tf.constant(value) for name, value in episode.items()})
    weights = [v.numpy().ravel().tolist() for v in algorithm.meta_variables() + algorithm.head_variables()]
    print(json.dumps({"replicas": strategy.num_replicas_in_sync, "finite": bool(finite),
                      "weights": weights, "query_loss": np.asarray(losses["query_loss"]).tolist()}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])

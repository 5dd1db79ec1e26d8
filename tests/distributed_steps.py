"""Runs a few MMTL outer steps under tf.distribute strategies and prints the weights as JSON.

Used by tests/test_distribution.py in subprocesses (logical devices and TF_CONFIG must be set
before TensorFlow starts). Usage:

  python distributed_steps.py multi_worker OUTER_UPDATE
      one worker of the cluster in TF_CONFIG; prints one record.
  python distributed_steps.py compare OUTER_UPDATE[,OUTER_UPDATE...] MIRRORED[,MIRRORED...]
      splits the CPU into 2 logical devices, then runs the default strategy (1 replica) for
      each outer update, and MirroredStrategy over the 2 devices for those listed in MIRRORED,
      in this one process; prints {outer_update: {"default": record[, "mirrored": record]}}.

A record is {"replicas", "finite", "weights", "query_loss"} after 3 seeded outer steps.
"""

import json
import sys

import numpy as np

from mmtl_tf import distribution


def run_steps(strategy, outer_update):
    """Builds the seeded model under `strategy`, takes 3 outer steps, returns the record."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    from mmtl_tf import config, training  # pylint: disable=import-outside-toplevel
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
    return {"replicas": strategy.num_replicas_in_sync, "finite": bool(finite),
            "weights": weights, "query_loss": np.asarray(losses["query_loss"]).tolist()}


def compare(outer_updates, mirrored_updates):
    """{outer_update: {"default": record[, "mirrored": record]}} computed in this process."""
    mirrored = distribution.build_strategy("mirrored", 2)  # splits the CPU first
    default = distribution.build_strategy("default")
    records = {outer_update: {"default": run_steps(default, outer_update)}
               for outer_update in outer_updates}
    for outer_update in mirrored_updates:
        records[outer_update]["mirrored"] = run_steps(mirrored, outer_update)
    return records


if __name__ == "__main__":
    if sys.argv[1] == "compare":
        print(json.dumps(compare(sys.argv[2].split(","), sys.argv[3].split(","))))
    else:
        print(json.dumps(run_steps(distribution.build_strategy(sys.argv[1]), sys.argv[2])))

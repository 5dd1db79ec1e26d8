"""Runs a few MMTL outer steps under tf.distribute strategies and prints the weights as JSON.

Used by tests/test_distribution.py in subprocesses (logical devices and TF_CONFIG must be set
before TensorFlow starts). Usage:

  python distributed_steps.py multi_worker OUTER_UPDATE
      one worker of the cluster in TF_CONFIG; prints one record.
  python distributed_steps.py compare OUTER_UPDATE[,OUTER_UPDATE...] MIRRORED[,MIRRORED...]
      splits the CPU into 2 logical devices, then runs the default strategy (1 replica) for
      each outer update, and MirroredStrategy over the 2 devices for those listed in MIRRORED,
      in this one process; prints {outer_update: {"default": record[, "mirrored": record]}}.

A record is {"replicas", "finite", "weights", "query_loss"} after 3 seeded outer steps, with
"applied" (the gradient of theta + phi the first step summed over replicas and applied, read
from Adam's first moment) and, for the default strategy of `compare`, "independent" (the mean
over speakers of each speaker's gradients, computed one speaker at a time with no strategy:
what Eq. 6-7's mean must be). An OUTER_UPDATE of "mtl" or "cnn_lstm" runs that
baseline instead of MMTL.
"""

import json
import sys

import numpy as np

from mmtl_tf import distribution


SPEAKERS = 4


def _train_config(config, name):
    """MMTL with outer update `name`, or the baseline `name` (mtl, cnn_lstm)."""
    if name in ("mtl", "cnn_lstm"):
        return config.TrainConfig(model=name, aux_tasks=() if name == "cnn_lstm" else
                                  ("valence", "arousal", "dominance"))
    return config.TrainConfig(outer_update=name)


def _episodes(count):
    """`count` seeded episodes of SPEAKERS speakers x 5 segments of 24 x 16."""
    rng = np.random.default_rng(0)
    return [{"spectrogram": rng.normal(size=(SPEAKERS, 5, 24, 16)).astype("float32"),
             "labels": rng.integers(0, 4, size=(SPEAKERS, 5, 4)).astype("int32"),
             "class_weights": rng.uniform(0.2, 1, size=(SPEAKERS, 4, 4)).astype("float32")}
            for _ in range(count)]


def mean_gradient(algorithm, episode):
    """The mean over speakers of every optimizer's gradients summed, one speaker at a time
    (an episode of one speaker, total_speakers=1) and without any strategy."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    theta, phi = algorithm.meta_weights(), algorithm.head_weights()
    total = [np.zeros(w.shape, np.float64) for w in theta + phi]
    one_speaker = tf.function(lambda alone: algorithm.step_updates(
        theta, phi, alone, alone["class_weights"], 1)[0])
    for speaker in range(SPEAKERS):
        updates = one_speaker({name: tf.constant(value[speaker:speaker + 1])
                               for name, value in episode.items()})
        for gradients in updates.values():
            for index, gradient in enumerate(gradients):
                if gradient is not None:
                    total[index] += np.asarray(gradient, np.float64)
    return [(value / SPEAKERS).ravel().tolist() for value in total]


def applied_gradient(algorithm, optimizers):
    """The gradient the first outer step applied to each of theta + phi, summed over optimizers,
    read from Adam's first moment: after one step it is exactly (1 - beta_1) * gradient."""
    variables = algorithm.meta_variables() + algorithm.head_variables()
    position = {id(variable): index for index, variable in enumerate(variables)}
    total = [np.zeros(variable.shape, np.float64) for variable in variables]
    for name, optimizer in optimizers.items():
        moments = [v for v in optimizer.variables if v.path.endswith("_momentum")]
        updated = algorithm.optimizer_variables(name)
        assert len(moments) == len(updated)
        for variable, moment in zip(updated, moments):
            total[position[id(variable)]] += np.asarray(moment.numpy(), np.float64) / (
                1.0 - float(optimizer.beta_1))
    return [value.ravel().tolist() for value in total]


def run_steps(strategy, outer_update, independent=False):
    """Builds the seeded model under `strategy`, takes 3 outer steps, returns the record (with
    "independent" only when asked: every strategy starts from the same seeded weights)."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    from mmtl_tf import config, training  # pylint: disable=import-outside-toplevel
    tf.config.experimental.enable_op_determinism()
    model = config.ModelConfig(conv_filters=(3, 4), conv_kernels=((5, 3), (3, 3)), lstm_units=5,
                               fc_units=6, num_frames=24, num_bins=16)
    experiment = config.ExperimentConfig(features=config.FeatureConfig(), model=model,
                                         train=_train_config(config, outer_update),
                                         tfrecord_dir="", run_dir="")
    with strategy.scope():
        algorithm, optimizers, _, _ = training.build_training(experiment, 4)
    episodes = _episodes(3)
    record = {"independent": mean_gradient(algorithm, episodes[0])} if independent else {}
    step = training.make_train_step(algorithm, optimizers, SPEAKERS, strategy=strategy)
    for index, episode in enumerate(episodes):
        losses, finite = step({name: tf.constant(value) for name, value in episode.items()})
        if index == 0:
            record["applied"] = applied_gradient(algorithm, optimizers)
    weights = [v.numpy().ravel().tolist() for v in algorithm.meta_variables() + algorithm.head_variables()]
    return {"replicas": strategy.num_replicas_in_sync, "finite": bool(finite),
            "weights": weights, "query_loss": np.asarray(losses["query_loss"]).tolist(), **record}


def compare(outer_updates, mirrored_updates):
    """{outer_update: {"default": record[, "mirrored": record]}} computed in this process."""
    mirrored = distribution.build_strategy("mirrored", 2)  # splits the CPU first
    default = distribution.build_strategy("default")
    records = {outer_update: {"default": run_steps(default, outer_update, independent=True)}
               for outer_update in outer_updates}
    for outer_update in mirrored_updates:
        records[outer_update]["mirrored"] = run_steps(mirrored, outer_update)
    return records


if __name__ == "__main__":
    if sys.argv[1] == "compare":
        print(json.dumps(compare(sys.argv[2].split(","), sys.argv[3].split(","))))
    else:
        # As the folds of `--fold=all` ask for it again: the process' one strategy, which keeps
        # its collectives working (a second MultiWorkerMirroredStrategy aborted them).
        first = distribution.build_strategy(sys.argv[1])
        again = distribution.build_strategy(sys.argv[1])
        assert again is first
        print(json.dumps(run_steps(again, sys.argv[2])))

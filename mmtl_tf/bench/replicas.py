"""The replica figure: the outer step under MirroredStrategy over 2 logical CPU devices.

Logical devices must exist before TensorFlow starts, so the measurement runs in a fresh process
(`python -m mmtl_tf.bench --figure=replica_step`, `child_process`), which prints one JSON line.
"""

import os

from mmtl_tf import distribution
from mmtl_tf import training
from mmtl_tf.bench import child_process
from mmtl_tf.bench import outer_step as outer_step_lib
from mmtl_tf.bench import plan as plan_lib
from mmtl_tf.bench import timing


def replica_step(model_config, speakers: int, segments_per_speaker: int, num_cpu_devices: int,
                 rounds: int) -> dict:
    """Run in a fresh process: the mirrored step over `num_cpu_devices` logical CPUs vs default.

    Splits the CPU first (before any TensorFlow device work), then times, alternately, the
    MirroredStrategy step (each replica takes m / replicas speakers) and the default step.

    Args:
      model_config: the meta learner's sizes.
      speakers, segments_per_speaker: m and B.
      num_cpu_devices: logical CPU devices (replicas).
      rounds: alternated timed rounds.

    Returns:
      dict: `value` (mirrored / default), `mirrored_seconds`, `default_seconds`, rounds.
    """
    strategy = distribution.build_strategy("mirrored", num_cpu_devices=num_cpu_devices)
    experiment = outer_step_lib.experiment_config(model_config, segments_per_speaker)
    with strategy.scope():
        algorithm, optimizers, _, _ = training.build_training(experiment, plan_lib.NUM_CLASSES)
    mirrored = training.make_train_step(algorithm, optimizers, speakers, strategy=strategy)
    default = outer_step_lib.build_outer_step(model_config, speakers, segments_per_speaker)
    episode = default.episode
    timed = timing.time_alternating({"mirrored": lambda: bool(mirrored(episode)[1]),
                              "default": default.run}, rounds)
    return {"value": timed["mirrored"]["median"] / timed["default"]["median"],
            "mirrored_seconds": timed["mirrored"]["median"],
            "default_seconds": timed["default"]["median"],
            "replicas": strategy.num_replicas_in_sync,
            "rounds": {name: value["seconds"] for name, value in timed.items()},
            "cpu_per_wall": {name: value["cpu_per_wall"] for name, value in timed.items()},
            "cpu_count": os.cpu_count(),
            "speakers": speakers, "segments_per_speaker": segments_per_speaker}


def start_replica_step(preset: str, speakers: int, segments_per_speaker: int, rounds: int,
                       num_cpu_devices: int = 2):
    """Starts the replica subprocess (the logical CPUs need a TensorFlow of their own).

    Args:
      preset: the preset flagfile the subprocess reads the model from.
      speakers, segments_per_speaker, rounds: as for `replica_step`.
      num_cpu_devices: logical CPU devices.

    Returns:
      The running process, for `finish_replica_step`.
    """
    return child_process.start_figure("replica_step", [
        f"--num_cpu_devices={num_cpu_devices}", f"--preset={preset}", f"--speakers={speakers}",
        f"--segments_per_speaker={segments_per_speaker}", f"--rounds={rounds}"])


def finish_replica_step(process, timeout: float = 3600) -> dict:
    """replica_ratio: waits for `start_replica_step`'s subprocess and reads its record
    (`child_process.finish_figure`; see `replica_step`)."""
    return child_process.finish_figure(process, "replica_step", timeout)


def replica_ratio(preset: str, speakers: int, segments_per_speaker: int, rounds: int,
                  num_cpu_devices: int = 2) -> dict:
    """replica_ratio: mirrored / default step time, measured in a subprocess (`replica_step`)."""
    return finish_replica_step(start_replica_step(preset, speakers, segments_per_speaker, rounds,
                                                  num_cpu_devices))



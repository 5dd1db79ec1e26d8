"""The serving figure: seconds of `serving_default` compute per second of audio.

A run directory of freshly initialised weights is written with the training side's own pieces
(`training.build_training`, `run_dir.record_config`, a `latest` checkpoint), exported with
`export.export_run`, loaded back, and timed on random 3 s utterances.
"""

import json
import os
import time

import keras
import numpy as np
import tensorflow as tf

from mmtl_tf import checkpoints
from mmtl_tf import export as export_lib
from mmtl_tf import folds
from mmtl_tf import run_dir as run_dir_lib
from mmtl_tf import training
from mmtl_tf.bench import outer_step as outer_step_lib
from mmtl_tf.bench import plan as plan_lib
from mmtl_tf.bench import timing


def serving_real_time_factor(version_dir: str, batch_sizes=(1, 32), seconds: float = 3.0,
                             repeats: int = 3) -> dict:
    """Times `serving_default` on random audio: seconds of compute per second of audio.

    Args:
      version_dir: an export version directory (`export_dir/<version>`).
      batch_sizes: utterances per call to time.
      seconds: duration of each utterance.
      repeats: timed calls per batch size (after one untimed warm-up call); the fastest counts.

    Returns:
      dict batch size -> real-time factor (below 1 is faster than real time).
    """
    loaded = tf.saved_model.load(version_dir)
    serve = loaded.signatures["serving_default"]
    rate = json.loads(loaded.feature_config_json.numpy().decode("utf-8"))["sample_rate"]
    samples = int(round(seconds * rate))
    rng = np.random.default_rng(0)
    factors = {}
    for batch_size in batch_sizes:
        waveform = tf.constant(0.1 * rng.standard_normal((batch_size, samples)), tf.float32)
        num_samples = tf.fill([batch_size], samples)
        serve(waveform=waveform, num_samples=num_samples)
        best = float("inf")
        for _ in range(repeats):
            started = time.perf_counter()
            serve(waveform=waveform, num_samples=num_samples)["probabilities"].numpy()
            best = min(best, time.perf_counter() - started)
        factors[batch_size] = best / (batch_size * seconds)
    return factors


def untrained_run_dir(model_config, feature_config, run_dir: str) -> str:
    """Writes a run directory (config.json, a `latest` checkpoint) of freshly initialised weights.

    Args:
      model_config, feature_config: the network and its features.
      run_dir: the directory to write.

    Returns:
      `run_dir`, ready for `export.export_run`.
    """
    keras.backend.clear_session()  # export restores by Keras variable path: fresh names
    experiment = outer_step_lib.experiment_config(model_config, 32, run_dir, feature_config)
    _, _, _, checkpoint = training.build_training(experiment, plan_lib.NUM_CLASSES)
    os.makedirs(run_dir, exist_ok=True)
    manifest = {"corpus": "synthetic", "class_names": list(plan_lib.CLASS_NAMES)}
    run_dir_lib.record_config(experiment, manifest,
                              folds.FoldSplit(fold=1, session="", train=(), validation="",
                                              test=""))
    tf.train.CheckpointManager(checkpoint, checkpoints.checkpoint_dir(run_dir, checkpoints.LATEST),
                               1).save()
    return run_dir


def serving_rtf(model_config, feature_config, work_dir: str, batch_sizes=(1, 32),
                seconds: float = 3.0, profile: bool = False) -> dict:
    """serving_rtf: serving_default seconds per second of audio (the worse of `batch_sizes`).

    Args:
      model_config, feature_config: the exported network and its features.
      work_dir: scratch space for the run directory and the export.
      batch_sizes: utterances per call.
      seconds: duration of each utterance.
      profile: add `network_only`: the real-time factor of the `spectrogram` signature on the
        same number of segments (the network without the feature computation).

    Returns:
      dict: `value`, `per_batch_size`, `seconds_per_utterance` (and `network_only`).
    """
    run_dir = untrained_run_dir(model_config, feature_config, os.path.join(work_dir, "serving"))
    keras.backend.clear_session()
    version_dir = export_lib.export_run(run_dir)
    factors = serving_real_time_factor(version_dir, batch_sizes=tuple(batch_sizes),
                                       seconds=seconds)
    result = {"value": max(factors.values()),
              "per_batch_size": {str(size): factor for size, factor in factors.items()},
              "seconds_per_utterance": seconds}
    if profile:
        network = tf.saved_model.load(version_dir).signatures["spectrogram"]
        segments_per_utterance = max(1, int(np.ceil(seconds / feature_config.segment_seconds)))
        network_only = {}
        for size in batch_sizes:
            spectrogram = tf.random.normal([size * segments_per_utterance,
                                            feature_config.max_frames, feature_config.num_bins])
            timed = timing.time_alternating({"network": lambda: network(
                spectrogram=spectrogram)["probabilities"].numpy()}, 3)
            network_only[str(size)] = timed["network"]["median"] / (size * seconds)
        result["network_only"] = network_only
    return result

"""What the bench figures run: the MMTL outer step built on an episode of random tensors.

`experiment_config` is the ExperimentConfig every figure builds from (MMTL, default settings);
`build_outer_step` builds the project's own training step (`training.build_training`,
`training.make_train_step`: first-order, Adam, the finite check) with a `random_episode` of the
training shape (an [m, B, frames, bins] episode), shared by the figures so they trace once. The
figures that time it are in `step_figures` and `reference`; `step_profiles` breaks it down.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from mmtl_tf import config as config_lib
from mmtl_tf import training
from mmtl_tf.bench import plan as plan_lib


def random_episode(speakers: int, segments_per_speaker: int, model_config, seed: int = 0) -> dict:
    """An episode of random tensors with the training step's shapes and dtypes.

    Args:
      speakers, segments_per_speaker: m and B.
      model_config: gives the spectrogram's frames and bins.
      seed: of the random values.


    Returns:
      dict: `spectrogram` float32 [m, B, frames, bins], `labels` int32 [m, B, 4] in 0..3,
      `class_weights` float32 [m, 4, 4] (all ones).
    """
    rng = np.random.default_rng(seed)
    shape = (speakers, segments_per_speaker, model_config.num_frames, model_config.num_bins)
    return {"spectrogram": tf.constant(rng.standard_normal(shape, dtype=np.float32)),
            "labels": tf.constant(rng.integers(0, 4, (speakers, segments_per_speaker, 4)),
                                  tf.int32),
            "class_weights": tf.ones((speakers, 4, plan_lib.NUM_CLASSES), tf.float32)}


def shape_features(model_config) -> config_lib.FeatureConfig:
    """Features of the model's input shape, for steps fed random tensors (only the shape counts):
    the defaults with the model's frames and bins, and a segment shortened to fit those frames."""
    defaults = config_lib.FeatureConfig()
    fitting_ms = (model_config.num_frames - 1) * defaults.hop_ms + defaults.window_ms
    return config_lib.FeatureConfig(
        max_frames=model_config.num_frames, num_bins=model_config.num_bins,
        segment_seconds=min(defaults.segment_seconds, fitting_ms / 1000.0))


def experiment_config(model_config, segments_per_speaker: int, run_dir: str = "",
                      feature_config=None, speakers_per_episode: int = 0):
    """The ExperimentConfig of the figures: MMTL with default settings.

    Args:
      model_config: the meta learner's sizes.
      segments_per_speaker, speakers_per_episode: B and m (0: every training speaker).
      run_dir: the run directory, when one is written.
      feature_config: default: `shape_features(model_config)`.

    Returns:
      A `config.ExperimentConfig`.
    """
    feature_config = feature_config or shape_features(model_config)
    return config_lib.ExperimentConfig(
        features=feature_config, model=model_config,
        train=config_lib.TrainConfig(segments_per_speaker=segments_per_speaker,
                                     speakers_per_episode=speakers_per_episode),
        tfrecord_dir="", run_dir=run_dir, preset="bench", export=False)


@dataclasses.dataclass
class OuterStep:
    """A built MMTL training step and a random episode for it (shared so figures trace once).

    Attributes:
      algorithm, optimizers: from `training.build_training`.
      step: `training.make_train_step`'s function.
      episode: the random episode it is timed on.
      jit_compile: whether the step is XLA-compiled.
    """

    algorithm: object
    optimizers: dict
    step: object
    episode: dict
    jit_compile: bool = False

    def run(self):
        """One outer step; returns when its results are on the host."""
        _, finite = self.step(self.episode)
        return bool(finite)


def build_outer_step(model_config, speakers: int, segments_per_speaker: int,
                     jit_compile: bool = False, seed: int = 0) -> OuterStep:
    """The training step of MMTL (first-order, Adam) for an m x B episode of random tensors.

    Args:
      model_config: the meta learner's sizes.
      speakers, segments_per_speaker: m and B.
      jit_compile: compile the step with XLA.
      seed: of the episode's values.

    Returns:
      An `OuterStep`.
    """
    algorithm, optimizers, _, _ = training.build_training(
        experiment_config(model_config, segments_per_speaker), plan_lib.NUM_CLASSES)
    step = training.make_train_step(algorithm, optimizers, speakers, jit_compile=jit_compile)
    return OuterStep(algorithm, optimizers, step,
                     random_episode(speakers, segments_per_speaker, model_config, seed),
                     jit_compile)

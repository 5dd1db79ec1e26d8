"""Figures of the outer step: its overhead over plain passes, XLA, and its cost over an m x B grid.

Steps are timed on random tensors of the training shape (an [m, B, frames, bins] episode), with
the project's own `training.build_training` and `training.make_train_step` (MMTL, first-order,
Adam, the finite check). The floor of `step_overhead` is 2m plain forward+backward passes of
the meta learner on the same batches: the passes Eq. 4-7 cannot do without.
"""

import dataclasses
import statistics

import numpy as np
import tensorflow as tf

from mmtl_tf import config as config_lib
from mmtl_tf import training
from mmtl_tf.algorithms import common
from mmtl_tf.bench import plan as plan_lib
from mmtl_tf.bench import timing


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

# -- step_overhead, step_overhead_xla and their profiles ---------------------------------------
def plain_passes(algorithm, passes_per_speaker: int = 2, jit_compile: bool = False):
    """A tf.function of plain forward+backward passes of the meta learner, per speaker.

    For every speaker of an episode: a pass at theta, an SGD step (alpha) and a pass at the moved
    weights (the same dependency chain as Eq. 4 then the outer gradient), with one loss (valence)
    and no transfer learner, optimizer or bookkeeping. The last gradients are summed over the
    speakers and reduced to a scalar, so no pass is pruned from the graph.

    Args:
      algorithm: a built MMTL algorithm (its meta learner and alpha are used).
      passes_per_speaker: forward+backward passes per speaker.
      jit_compile: compile with XLA.

    Returns:
      passes(episode) -> float32 scalar.
    """
    network = algorithm.meta
    rate = algorithm.train_config.meta_learning_rate

    def passes(episode):
        theta = algorithm.meta_weights()
        spectrogram, labels = episode["spectrogram"], episode["labels"]
        weights = common.sample_weights(episode["class_weights"], labels)
        total = common.zeros_like_all(theta)
        for speaker in tf.range(tf.shape(spectrogram)[0]):
            current = theta
            gradients = theta
            for _ in range(passes_per_speaker):
                with tf.GradientTape() as tape:
                    tape.watch(current)
                    logits = network.call(current, spectrogram[speaker])
                    loss = common.weighted_cross_entropy(logits, labels[speaker][:, 1],
                                                         weights[speaker][:, 1])
                gradients = tape.gradient(loss, current)
                current = common.add_all(current, gradients, -rate)
            total = common.add_all(total, gradients)
        return tf.add_n([tf.reduce_sum(gradient) for gradient in total])

    return tf.function(passes, jit_compile=jit_compile)


def step_overhead(model_config, speakers: int, segments_per_speaker: int, rounds: int,
                  jit_compile: bool = False, outer_step: OuterStep = None) -> dict:
    """step_overhead: outer-step time / time of 2m plain forward+backward passes, same batches.

    Args:
      model_config: the meta learner's sizes.
      speakers, segments_per_speaker: m and B of the random episode.
      rounds: alternated timed rounds.
      jit_compile: compile both sides with XLA.
      outer_step: a built step to reuse (its jit_compile must match).

    Returns:
      dict: `value` (the ratio), `step_seconds`, `plain_seconds`, `step_first_call_seconds`
      (trace, and XLA compile), the per-round seconds and m, B.
    """
    outer_step = outer_step or build_outer_step(model_config, speakers, segments_per_speaker,
                                                jit_compile)
    passes = plain_passes(outer_step.algorithm, jit_compile=jit_compile)
    timed = timing.time_alternating({"step": outer_step.run,
                              "plain": lambda: passes(outer_step.episode).numpy()}, rounds)
    return {"value": timed["step"]["median"] / timed["plain"]["median"],
            "step_seconds": timed["step"]["median"], "plain_seconds": timed["plain"]["median"],
            "step_first_call_seconds": timed["step"]["first_call"],
            "plain_first_call_seconds": timed["plain"]["first_call"],
            "step_rounds": timed["step"]["seconds"], "plain_rounds": timed["plain"]["seconds"],
            "step_cpu_per_wall": timed["step"]["cpu_per_wall"],
            "plain_cpu_per_wall": timed["plain"]["cpu_per_wall"],
            "speakers": speakers, "segments_per_speaker": segments_per_speaker,
            "jit_compile": jit_compile}


def step_overhead_xla(model_config, speakers: int, segments_per_speaker: int, rounds: int,
                      profile: bool = False) -> dict:
    """step_overhead with jit_compile=True on both sides, beside the default graph step.

    Times, alternately and on one episode, the XLA step, the XLA plain passes and the default
    (graph) step, so `xla_speedup` (graph step / XLA step) comes from the same rounds.

    Args:
      profile: when XLA is slower than the graph, add `xla_loop_profile`.
    """
    graph = build_outer_step(model_config, speakers, segments_per_speaker)
    compiled = build_outer_step(model_config, speakers, segments_per_speaker, jit_compile=True)
    passes = plain_passes(compiled.algorithm, jit_compile=True)
    timed = timing.time_alternating({"step": compiled.run,
                              "plain": lambda: passes(compiled.episode).numpy(),
                              "graph_step": lambda: bool(graph.step(compiled.episode)[1])},
                             rounds)
    result = {"value": timed["step"]["median"] / timed["plain"]["median"],
              "step_seconds": timed["step"]["median"], "plain_seconds": timed["plain"]["median"],
              "graph_step_seconds": timed["graph_step"]["median"],
              "xla_speedup": timed["graph_step"]["median"] / timed["step"]["median"],
              "step_first_call_seconds": timed["step"]["first_call"],
              "plain_first_call_seconds": timed["plain"]["first_call"],
              "rounds": {name: value["seconds"] for name, value in timed.items()},
              "cpu_per_wall": {name: value["cpu_per_wall"] for name, value in timed.items()},
              "speakers": speakers, "segments_per_speaker": segments_per_speaker}
    if profile and result["xla_speedup"] < 1.0:
        result["profile"] = xla_loop_profile(graph.algorithm, compiled.episode, rounds)
    return result


def xla_loop_profile(algorithm, episode: dict, rounds: int) -> dict:
    """Seconds of one forward/backward pass of the meta learner: graph, XLA, XLA in a loop.

    The outer step visits speakers in a `tf.range` loop; this isolates what XLA does with a
    pass inside such a loop (a one-iteration loop) against the same pass outside one.

    Args:
      algorithm: a built MMTL algorithm.
      episode: the episode whose first speaker is passed.
      rounds: alternated timed rounds.

    Returns:
      dict: `pass_seconds` and `cpu_per_wall` per variant.
    """
    network = algorithm.meta
    spectrogram = episode["spectrogram"]
    labels = episode["labels"][0][:, 1]

    def one_pass(inputs):
        theta = algorithm.meta_weights()
        with tf.GradientTape() as tape:
            tape.watch(theta)
            loss = common.weighted_cross_entropy(network.call(theta, inputs), labels,
                                                 tf.ones_like(labels, tf.float32))
        return tf.add_n([tf.reduce_sum(g) for g in tape.gradient(loss, theta)])

    def in_loop():
        total = tf.constant(0.0)
        for index in tf.range(1):
            total += one_pass(spectrogram[index])
        return total

    variants = {"graph": tf.function(lambda: one_pass(spectrogram[0])),
                "xla": tf.function(lambda: one_pass(spectrogram[0]), jit_compile=True),
                "graph_in_loop": tf.function(in_loop),
                "xla_in_loop": tf.function(in_loop, jit_compile=True)}
    timed = timing.time_alternating({name: (lambda f: lambda: f().numpy())(function)
                              for name, function in variants.items()}, rounds)
    return {"pass_seconds": {name: value["median"] for name, value in timed.items()},
            "cpu_per_wall": {name: value["cpu_per_wall"] for name, value in timed.items()}}


def step_breakdown(outer_step: OuterStep, rounds: int) -> dict:
    """Seconds of the outer step's parts, the profile of `step_overhead` (one speaker's share each).

    Parts: `support_pass` (Eq. 4: forward/backward at theta), `query_pass` (Eq. 5 and the
    outer gradient: forward/backward at theta'_i with the transfer learner), `speaker` (a one-speaker
    `step_updates`: both passes), `apply` (Adam on theta and phi) and the whole `step`.

    Args:
      outer_step: the built step of `step_overhead`.
      rounds: alternated timed rounds.

    Returns:
      dict: `seconds` per part, `speakers`, `step_minus_speakers_seconds`.
    """
    algorithm = outer_step.algorithm
    episode = outer_step.episode
    spectrogram = episode["spectrogram"][0]
    labels = episode["labels"][0]
    weights = common.sample_weights(episode["class_weights"][0], labels)
    network, head = algorithm.meta, algorithm.head

    @tf.function
    def support_pass():
        theta = algorithm.meta_weights()
        with tf.GradientTape() as tape:
            tape.watch(theta)
            logits = network.call(theta, spectrogram)
            loss = common.aux_loss(lambda task: logits, labels, weights, algorithm.aux_indices)
        return tf.add_n([tf.reduce_sum(g) for g in tape.gradient(loss, theta)])

    @tf.function
    def query_pass():
        theta, phi = algorithm.meta_weights(), algorithm.head_weights()
        with tf.GradientTape() as tape:
            tape.watch(theta + phi)
            logits = head.call(phi, network.call(theta, spectrogram))
            loss = common.weighted_cross_entropy(logits, labels[:, 0], weights[:, 0])
        return tf.add_n([tf.reduce_sum(g) for g in tape.gradient(loss, theta + phi)])

    one_speaker = {name: value[:1] for name, value in episode.items()}

    @tf.function
    def speaker():
        updates, _ = algorithm.step_updates(algorithm.meta_weights(), algorithm.head_weights(),
                                            one_speaker, one_speaker["class_weights"], 1)
        return tf.add_n([tf.reduce_sum(g) for gradients in updates.values() for g in gradients
                         if g is not None])

    variables = algorithm.meta_variables() + algorithm.head_variables()
    zeros = [tf.zeros_like(variable) for variable in variables]

    @tf.function
    def apply():
        algorithm.apply_updates(outer_step.optimizers, {"outer": zeros})
        return tf.constant(0.0)

    timed = timing.time_alternating({"support_pass": lambda: support_pass().numpy(),
                              "query_pass": lambda: query_pass().numpy(),
                              "speaker": lambda: speaker().numpy(),
                              "apply": lambda: apply().numpy(),
                              "step": outer_step.run}, rounds)
    speakers = int(episode["spectrogram"].shape[0])
    return {"seconds": {name: value["median"] for name, value in timed.items()},
            "speakers": speakers,
            "step_minus_speakers_seconds": timed["step"]["median"]
            - speakers * timed["speaker"]["median"]}


# -- scaling ------------------------------------------------------------------------------------
def scaling(model_config, speakers_grid, segments_grid, rounds: int) -> dict:
    """scaling: outer-step seconds over an m x B grid, and their spread per segment.

    The training step is called from a tf.function whose input signature leaves m and B
    open, so the grid costs one trace; the grid points are timed round by round.

    Args:
      model_config: the meta learner's sizes.
      speakers_grid, segments_grid: the m and B values.
      rounds: alternated timed rounds per grid point.

    Returns:
      dict: `value` (max / min of seconds per segment), `table` rows {m, B, seconds,
      seconds_per_segment, relative} (relative: per-segment time / the grid's median), and
      `speaker_linearity` (for each B: time at the largest m / time at the smallest m, divided
      by the ratio of the m's; 1 is exactly linear).
    """
    algorithm, optimizers, _, _ = training.build_training(
        experiment_config(model_config, max(segments_grid)), plan_lib.NUM_CLASSES)
    largest = max(speakers_grid)
    training_step = training.make_train_step(algorithm, optimizers, largest)
    frames, bins = model_config.num_frames, model_config.num_bins
    signature = {"spectrogram": tf.TensorSpec([None, None, frames, bins], tf.float32),
                 "labels": tf.TensorSpec([None, None, 4], tf.int32),
                 "class_weights": tf.TensorSpec([None, 4, plan_lib.NUM_CLASSES], tf.float32)}
    relaxed = tf.function(lambda episode: training_step(episode)[1], input_signature=[signature])
    grid = [(m, b) for m in speakers_grid for b in segments_grid]
    calls = {}
    for m, b in grid:
        episode = random_episode(m, b, model_config, seed=m * 100 + b)
        calls[f"{m}x{b}"] = (lambda e: lambda: bool(relaxed(e)))(episode)
    timed = timing.time_alternating(calls, rounds, warm_up=list(calls)[:1])
    per_segment = {key: timed[key]["median"] / (m * b) for key, (m, b) in zip(calls, grid)}
    middle = statistics.median(per_segment.values())
    table = [{"speakers": m, "segments_per_speaker": b, "seconds": timed[key]["median"],
              "seconds_per_segment": per_segment[key], "relative": per_segment[key] / middle}
             for key, (m, b) in zip(calls, grid)]
    smallest = min(speakers_grid)
    linearity = {str(b): (timed[f"{largest}x{b}"]["median"] / timed[f"{smallest}x{b}"]["median"])
                 / (largest / smallest) for b in segments_grid}
    return {"value": max(per_segment.values()) / min(per_segment.values()), "table": table,
            "speaker_linearity": linearity,
            "trace_seconds": timed[list(calls)[0]]["first_call"],
            "cpu_per_wall": {key: timed[key]["cpu_per_wall"] for key in calls}}



"""Figures of the outer step: its overhead over plain passes, XLA, and its cost over an m x B grid.

Steps are timed on random tensors of the training shape (an [m, B, frames, bins] episode), with
the step `outer_step.build_outer_step` builds from the project's own `training` (MMTL,
first-order, Adam, the finite check). The floor of `step_overhead` is 2m plain forward+backward
passes of the meta learner on the same batches: the passes Eq. 4-7 cannot do without. When a
figure misses its target, `step_profiles` says where the time goes.
"""

import statistics

import tensorflow as tf

from mmtl_tf import training
from mmtl_tf.algorithms import common
from mmtl_tf.bench import outer_step as outer_step_lib
from mmtl_tf.bench import plan as plan_lib
from mmtl_tf.bench import step_profiles
from mmtl_tf.bench import timing


# -- step_overhead and step_overhead_xla (their profiles: step_profiles) --------------------
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
                  jit_compile: bool = False, outer_step: outer_step_lib.OuterStep = None) -> dict:
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
    outer_step = outer_step or outer_step_lib.build_outer_step(model_config, speakers,
                                                               segments_per_speaker, jit_compile)
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
      profile: when XLA is slower than the graph, add `step_profiles.xla_loop_profile`.
    """
    graph = outer_step_lib.build_outer_step(model_config, speakers, segments_per_speaker)
    compiled = outer_step_lib.build_outer_step(model_config, speakers, segments_per_speaker,
                                               jit_compile=True)
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
        result["profile"] = step_profiles.xla_loop_profile(graph.algorithm, compiled.episode,
                                                           rounds)
    return result


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
        outer_step_lib.experiment_config(model_config, max(segments_grid)), plan_lib.NUM_CLASSES)
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
        episode = outer_step_lib.random_episode(m, b, model_config, seed=m * 100 + b)
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


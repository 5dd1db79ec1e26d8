"""Performance figures of mmtl_tf: `python -m mmtl_tf.bench [--quick] [--preset=paper|demo|smoke]`.

Every figure is a RATIO of two timings taken in the same run, the compared variants alternating
round by round (the order rotates) and each side summarised by its median, so the slow, shared
CPU machines this runs on cancel out as far as they can. The output is JSON (`--output=FILE`
also writes it) and a table giving each figure, its target and whether it is met. A figure that
cannot be measured (a missing optional package or module) says "unavailable: <reason>".

1. step_overhead (target <= 1.15): one MMTL outer step over m speakers (`training.make_train_step`,
   Eq. 4-7 with Adam and the finite check) / 2m plain forward+backward passes of the meta learner
   on the same batches (a tf.function looping over the speakers: a pass at theta, an SGD step,
   a pass at the moved weights). Above 1 is what the transfer learner, the loss bookkeeping and the
   optimizer cost on top of the two passes per speaker that the algorithm needs.
   step_overhead_xla: the same with `jit_compile=True` on both sides, on a small episode
   (B = 4): XLA on CPU runs the convolutions inside the speaker loop many times slower than
   outside one (`xla_loop_profile` shows it), so the paper's B would take hours. Its details
   give `xla_speedup`, the default graph step's time / the XLA step's on the same episode.
2. vs_reference_schedule (target >= 2): a plain implementation of the authors' schedule / our
   outer step, on the same episode. The reference (written here, `ReferenceSchedule`) copies the
   weights into a second Keras model for every speaker (get_weights/set_weights, as the authors'
   deepcopy), runs one eager forward/backward pass per auxiliary task and an Adam step on the
   copy, one pass for the transfer stage (Adam on the copy's head), one for the fine-tune stage,
   and an outer Adam step with the mean of the fine-tune gradients. When the figure misses, its
   profile times the same schedule with every pass in a tf.function, which separates the cost of
   the schedule's extra passes from that of eager execution.
3. input_headroom (target >= 5): segments/s that `episodes.episode_dataset` delivers alone, over
   prepared synthetic shards and whole epochs (each a fresh dataset, as training makes them) /
   segments/s the outer step of figure 1 consumes (m*B per step). The pipeline's rate is its
   steady one, from each epoch's first episode on; `with_epoch_start` also counts the wait for
   that first episode. Above 1 the step never waits.
4. prepare_speedup (target >= 3): seconds of audio per second that `preparation.prepare_corpus`
   turns into TFRecords / the same for a single-process librosa path (librosa.load, librosa.stft
   with the same Hamming window, hop and DFT, log power, the same normalisation and padding,
   then the same records with a plain loop). The details give the largest difference between the
   two paths' spectrograms, which should be float32 round-off.
5. serving_rtf (target <= 0.01): seconds of `serving_default` compute per second of audio, 3 s
   utterances, batches of 1 and 32 (`export.serving_real_time_factor` on a model exported with
   `export.export_run` from a run directory holding freshly initialised weights); the value is
   the worse batch size.
6. replica_ratio (target <= 1): outer-step time with MirroredStrategy over 2 logical CPU devices
   (`distribution.build_strategy("mirrored", 2)`, each replica takes half the speakers) / the
   default one-device step, both timed alternately in one fresh subprocess
   (`python -m mmtl_tf.bench --figure=replica_step --num_cpu_devices=2`): the logical devices
   must exist before TensorFlow starts. (Splitting the CPU in two did not slow the default
   step, within 4%, when checked against a process with one CPU device.) Below 1 means the
   replicas overlap.
7. scaling (target <= 1.5): outer-step seconds for m = 2, 4, 8 speakers and B = 8, 16, 32
   segments; the value is the spread (max / min) of the seconds per segment, time / (m*B), so 1
   is perfectly linear. One trace serves the whole grid (the training step called from a
   tf.function with [None, None, frames, bins] inputs).
   rss_growth (target <= 0.05): growth of the process's peak resident memory (VmHWM) between
   outer step 5 and outer step 50 (2 and 10 with --quick); it runs first, so the peak is its own.
   `second_half_growth` (step ~25 to 50) tells a leak, which grows in both halves, from the
   allocators' warm-up, which levels off.

Steps are timed on random tensors of the paper's shape (a [m, B, 300, 200] spectrogram); only
figures 3 and 4 read audio (a small synthetic corpus generated into a temporary directory).
`--quick` (the smoke model, one round, no XLA, no profiles) finishes in about a minute on an
idle 2-core machine and is for CI: its numbers mean nothing. The full run (paper preset) takes
10 to 15 minutes on an idle 2-core machine; `--noxla` skips the XLA comparison (about 2.5
minutes), `--preset=demo` is smaller.
A figure that misses its target gets a short profile in its record (see `run_benchmark`), and
every timed variant reports `cpu_per_wall`, the cores it kept busy: on a shared machine a
value far below the core count says the figure was starved by other processes.
"""

import contextlib
import dataclasses
import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

from absl import app
from absl import flags
import keras
import numpy as np
import tensorflow as tf

from mmtl_tf import audio
from mmtl_tf import cli_flags
from mmtl_tf import config as config_lib
from mmtl_tf import episodes
from mmtl_tf import models
from mmtl_tf import preparation
from mmtl_tf import run_dir as run_dir_lib
from mmtl_tf import tfrecords
from mmtl_tf import training
from mmtl_tf.algorithms import common

FLAGS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "flags")
PRESETS = ("paper", "demo", "smoke")
NUM_CLASSES = 4
CLASS_NAMES = ("neu", "hap", "sad", "ang")

# Figure name -> (comparison, threshold, what the value is).
TARGETS = {
    "step_overhead": ("<=", 1.15, "outer step / 2m plain fwd+bwd passes"),
    "step_overhead_xla": ("<=", 1.15, "the same, both with jit_compile=True"),
    "vs_reference_schedule": (">=", 2.0, "authors' schedule (eager Keras) / our outer step"),
    "input_headroom": (">=", 5.0, "pipeline segments/s / step segments/s"),
    "prepare_speedup": (">=", 3.0, "prepare_corpus audio s/s / librosa loop audio s/s"),
    "serving_rtf": ("<=", 0.01, "serving s per audio s, worst of batch 1 and 32"),
    "replica_ratio": ("<=", 1.0, "MirroredStrategy 2 CPU devices / 1 device step time"),
    "scaling": ("<=", 1.5, "max/min step s per segment over m=2,4,8 x B=8,16,32"),
    "rss_growth": ("<=", 0.05, "peak RSS growth, step 5 -> step 50"),
}
FIGURES = tuple(TARGETS)


# -- plan ---------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class BenchPlan:
    """Sizes of one benchmark run.

    Attributes:
      preset: "paper", "demo" or "smoke" (the model and B come from flags/<preset>.cfg).
      model_config: the meta learner's sizes.
      segments_per_speaker: B of figures 1, 2, 3 and 6.
      speakers: m of figures 1, 2 and 6.
      rounds: timed rounds of each alternated comparison.
      with_xla: also time figure 1 with jit_compile=True.
      xla_segments_per_speaker, xla_rounds: B and rounds of the XLA comparison (small: XLA:CPU
        runs the convolutions inside the speaker loop far slower, see `xla_loop_profile`).
      profiles: profile a figure that misses its target (see `run_benchmark`).
      overlap_replicas: run figure 6's subprocess alongside the others (quick, meaningless).
      scaling_speakers, scaling_segments: the grid of figure 7.
      scaling_rounds: timed rounds per grid point.
      prepare_rounds: timed rounds of figure 4 (a few seconds each).
      memory_steps: the two outer steps after which peak RSS is read.
      memory_segments_per_speaker: B of the memory figure.
      corpus_utterances, corpus_max_seconds: size of the synthetic corpus (figures 3 and 4).
      pipeline_epochs: timed epochs of figure 3.
      serving_batch_sizes, serving_seconds: figure 5.
    """

    preset: str
    model_config: config_lib.ModelConfig
    segments_per_speaker: int
    speakers: int = 2
    rounds: int = 3
    with_xla: bool = True
    xla_segments_per_speaker: int = 4
    xla_rounds: int = 2
    profiles: bool = True
    overlap_replicas: bool = False
    scaling_speakers: tuple = (2, 4, 8)
    scaling_segments: tuple = (8, 16, 32)
    scaling_rounds: int = 2
    prepare_rounds: int = 5
    memory_steps: tuple = (5, 50)
    memory_segments_per_speaker: int = 8
    corpus_utterances: int = 48
    corpus_max_seconds: float = 10.0
    pipeline_epochs: int = 4
    serving_batch_sizes: tuple = (1, 32)
    serving_seconds: float = 3.0


def preset_sizes(preset: str):
    """The model sizes and B of a preset flagfile.

    Args:
      preset: "paper", "demo" or "smoke"; reads flags/<preset>.cfg (the defaults are `paper`).

    Returns:
      (ModelConfig, segments_per_speaker).

    Raises:
      ValueError: an unknown preset, or a flagfile that is missing (other than paper's).
    """
    if preset not in PRESETS:
        raise ValueError(f"--preset={preset!r}: choose one of {', '.join(PRESETS)}")
    values = {}
    path = os.path.join(FLAGS_DIR, f"{preset}.cfg")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                line = line.strip()
                if line.startswith("--") and "=" in line:
                    name, value = line[2:].split("=", 1)
                    values[name] = value
    elif preset != "paper":
        raise ValueError(f"--preset={preset}: {path} not found")
    defaults = config_lib.ModelConfig()
    model_config = config_lib.ModelConfig(
        conv_filters=tuple(int(v) for v in values["conv_filters"].split(","))
        if "conv_filters" in values else defaults.conv_filters,
        conv_kernels=tuple(tuple(int(x) for x in kernel.split("x"))
                           for kernel in values["conv_kernels"].split(","))
        if "conv_kernels" in values else defaults.conv_kernels,
        lstm_units=int(values.get("lstm_units", defaults.lstm_units)),
        fc_units=int(values.get("fc_units", defaults.fc_units)))
    segments = int(values.get("segments_per_speaker",
                              config_lib.TrainConfig().segments_per_speaker))
    return model_config, segments


def make_plan(preset: str, quick: bool, speakers: int = None, segments_per_speaker: int = None,
              rounds: int = None, with_xla: bool = True) -> BenchPlan:
    """The sizes of a full run, or of a `--quick` one (for CI: its numbers mean nothing).

    --quick: one round, no XLA and no profiles, RSS after steps 2 and 10 at the preset's B,
    a corpus of 4 utterances (<= 4 s) per speaker, and figure 6 alongside the others.
    """
    model_config, preset_segments = preset_sizes(preset)
    segments = segments_per_speaker or preset_segments
    sizes = {"preset": preset, "model_config": model_config, "segments_per_speaker": segments,
             "speakers": speakers or 2, "with_xla": with_xla}
    if quick:
        sizes.update(rounds=1, with_xla=False, profiles=False, overlap_replicas=True,
                     scaling_rounds=1, prepare_rounds=1, memory_steps=(2, 10),
                     memory_segments_per_speaker=segments,
                     corpus_utterances=4, corpus_max_seconds=4.0, pipeline_epochs=2)
    if rounds:
        sizes["rounds"] = rounds
    return BenchPlan(**sizes)


# -- shared pieces ------------------------------------------------------------------------------
def unavailable(reason: str) -> dict:
    """The record of a figure that could not be measured."""
    return {"value": None, "unavailable": reason}


def random_episode(speakers: int, segments_per_speaker: int, model_config, seed: int = 0) -> dict:
    """An episode of random tensors with the training step's shapes and dtypes.

    Returns:
      dict: `spectrogram` float32 [m, B, frames, bins], `labels` int32 [m, B, 4] in 0..3,
      `class_weights` float32 [m, 4, 4] (all ones).
    """
    rng = np.random.default_rng(seed)
    shape = (speakers, segments_per_speaker, model_config.num_frames, model_config.num_bins)
    return {"spectrogram": tf.constant(rng.standard_normal(shape, dtype=np.float32)),
            "labels": tf.constant(rng.integers(0, 4, (speakers, segments_per_speaker, 4)),
                                  tf.int32),
            "class_weights": tf.ones((speakers, 4, NUM_CLASSES), tf.float32)}


def _experiment(model_config, segments_per_speaker,
                run_dir: str = "") -> config_lib.ExperimentConfig:
    feature_config = config_lib.FeatureConfig(max_frames=model_config.num_frames,
                                              num_bins=model_config.num_bins)
    return config_lib.ExperimentConfig(
        features=feature_config, model=model_config,
        train=config_lib.TrainConfig(segments_per_speaker=segments_per_speaker),
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
    """The training step of MMTL (first-order, Adam) for an m x B episode of random tensors."""
    algorithm, optimizers, _, _ = training.build_training(
        _experiment(model_config, segments_per_speaker), NUM_CLASSES)
    step = training.make_train_step(algorithm, optimizers, speakers, jit_compile=jit_compile)
    return OuterStep(algorithm, optimizers, step,
                     random_episode(speakers, segments_per_speaker, model_config, seed),
                     jit_compile)


def time_alternating(calls: dict, rounds: int, warm_up=None) -> dict:
    """Times callables alternately, after untimed warm-up calls.

    The order rotates every round, so a slow spell of the machine falls on every variant.
    A warmed-up callable gets one untimed call (tracing, compiling); when that took under 10 s
    it gets another, and more while they take under half a second (at most 3 more): short
    calls settle over a few repeats, long ones are not worth repeating.

    Args:
      calls: name -> callable taking no argument (it must return when its work is done).
      rounds: timed calls of each.
      warm_up: names to warm up (default: all).

    Returns:
      name -> {"median": seconds, "seconds": [each round], "first_call": warm-up seconds (0
      when not warmed up), "cpu_per_wall": median of this process's CPU seconds (user+system)
      per wall second over the timed calls; 2.0 means both cores of a 2-core machine busy}.
    """
    names = list(calls)
    warm_up = names if warm_up is None else list(warm_up)
    results = {name: {"seconds": [], "cpu": [], "first_call": 0.0} for name in names}
    for name in warm_up:
        started = time.perf_counter()
        calls[name]()
        results[name]["first_call"] = time.perf_counter() - started
        last = 0.0 if results[name]["first_call"] < 10.0 else float("inf")
        for _ in range(3):
            if last >= 0.5:
                break
            started = time.perf_counter()
            calls[name]()
            last = time.perf_counter() - started
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            cpu_before, started = _cpu_seconds(), time.perf_counter()
            calls[name]()
            wall = time.perf_counter() - started
            results[name]["seconds"].append(wall)
            results[name]["cpu"].append((_cpu_seconds() - cpu_before) / max(wall, 1e-9))
    for result in results.values():
        result["median"] = statistics.median(result["seconds"])
        result["cpu_per_wall"] = statistics.median(result.pop("cpu"))
    return results


def _cpu_seconds() -> float:
    usage = os.times()
    return usage.user + usage.system


def _rounded(value, digits=4):
    if isinstance(value, float):
        return float(f"{value:.{digits}g}")
    if isinstance(value, dict):
        return {key: _rounded(item, digits) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_rounded(item, digits) for item in value]
    return value


# -- figure 1: step overhead --------------------------------------------------------------------
def plain_passes(algorithm, passes_per_speaker: int = 2, jit_compile: bool = False):
    """A tf.function of plain forward+backward passes of the meta learner, per speaker.

    For every speaker of an episode: a pass at theta, an SGD step (alpha) and a pass at the moved
    weights (the same dependency chain as Eq. 4 then the outer gradient), with one loss (valence)
    and no transfer learner, optimizer or bookkeeping. The last gradients are summed over the
    speakers and reduced to a scalar, so no pass is pruned from the graph.

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
    """Figure 1: outer-step time / time of 2m plain forward+backward passes, same batches.

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
    timed = time_alternating({"step": outer_step.run,
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
    """Figure 1 with jit_compile=True on both sides, beside the default graph step.

    Times, alternately and on one episode, the XLA step, the XLA plain passes and the default
    (graph) step, so `xla_speedup` (graph step / XLA step) comes from the same rounds.

    Args:
      profile: when XLA is slower than the graph, add `xla_loop_profile`.
    """
    graph = build_outer_step(model_config, speakers, segments_per_speaker)
    compiled = build_outer_step(model_config, speakers, segments_per_speaker, jit_compile=True)
    passes = plain_passes(compiled.algorithm, jit_compile=True)
    timed = time_alternating({"step": compiled.run,
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
    timed = time_alternating({name: (lambda f: lambda: f().numpy())(function)
                              for name, function in variants.items()}, rounds)
    return {"pass_seconds": {name: value["median"] for name, value in timed.items()},
            "cpu_per_wall": {name: value["cpu_per_wall"] for name, value in timed.items()}}


def step_breakdown(outer_step: OuterStep, rounds: int) -> dict:
    """Seconds of the outer step's parts, for a profile of figure 1 (one speaker's share each).

    Parts: `support_pass` (Eq. 4: forward/backward at theta), `query_pass` (Eq. 5 and the
    outer gradient: forward/backward at theta'_i with the transfer learner), `speaker` (both, as
    `_speaker_step`), `apply` (Adam on theta and phi) and the whole `step`.
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

    @tf.function
    def speaker():
        result = algorithm._speaker_step(  # pylint: disable=protected-access
            algorithm.meta_weights(), algorithm.head_weights(), spectrogram, labels, weights)
        return tf.add_n([tf.reduce_sum(g) for g in result["outer_theta"] + result["outer_phi"]])

    variables = algorithm.meta_variables() + algorithm.head_variables()
    zeros = [tf.zeros_like(variable) for variable in variables]

    @tf.function
    def apply():
        algorithm.apply_updates(outer_step.optimizers, {"outer": zeros})
        return tf.constant(0.0)

    timed = time_alternating({"support_pass": lambda: support_pass().numpy(),
                              "query_pass": lambda: query_pass().numpy(),
                              "speaker": lambda: speaker().numpy(),
                              "apply": lambda: apply().numpy(),
                              "step": outer_step.run}, rounds)
    speakers = int(episode["spectrogram"].shape[0])
    return {"seconds": {name: value["median"] for name, value in timed.items()},
            "speakers": speakers,
            "step_minus_speakers_seconds": timed["step"]["median"]
            - speakers * timed["speaker"]["median"]}


# -- figure 2: the authors' schedule ------------------------------------------------------------
class ReferenceSchedule:
    """The authors' schedule written plainly, as their PyTorch code runs it (figure 2 only).

    Per speaker: copy theta and phi into a second Keras model (get_weights/set_weights, the
    authors' deepcopy); one forward/backward pass per auxiliary task at the copied theta and an
    Adam(alpha) step on the copy with their mean gradient (Eq. 4); a pass through the moved meta
    learner and the head with an Adam(beta) step on the copy's head (Eq. 5); a pass with
    gradients for both (the fine-tune stage), summed over speakers. Then Adam(gamma) on the
    original weights with the mean (Eq. 6-7). Keras calls are eager unless `compiled`.
    """

    def __init__(self, model_config, train_config, num_classes: int = NUM_CLASSES,
                 compiled: bool = False):
        self.aux_indices = tuple(common.TASKS.index(task) for task in train_config.aux_tasks)
        self.meta = models.build_meta_learner(model_config, name="reference_meta")
        self.head = models.build_transfer_learner(num_classes)
        self.copy_meta = models.build_meta_learner(model_config, name="reference_meta_copy")
        self.copy_head = models.build_transfer_learner(num_classes)
        self.support_optimizer = keras.optimizers.Adam(train_config.meta_learning_rate)
        self.transfer_optimizer = keras.optimizers.Adam(train_config.transfer_learning_rate)
        self.outer_optimizer = keras.optimizers.Adam(train_config.outer_learning_rate)
        self.support_optimizer.build(self.copy_meta.trainable_variables)
        self.transfer_optimizer.build(self.copy_head.trainable_variables)
        self.outer_optimizer.build(self.meta.trainable_variables + self.head.trainable_variables)
        wrap = tf.function if compiled else (lambda function: function)
        self._task_gradients = wrap(self._task_gradients_eager)
        self._transfer_gradients = wrap(self._transfer_gradients_eager)
        self._query_gradients = wrap(self._query_gradients_eager)

    def _task_gradients_eager(self, spectrogram, task_labels, task_weights):
        with tf.GradientTape() as tape:
            loss = common.weighted_cross_entropy(self.copy_meta(spectrogram, training=True),
                                                 task_labels, task_weights)
        return tape.gradient(loss, self.copy_meta.trainable_variables)

    def _transfer_gradients_eager(self, spectrogram, emotion_labels, emotion_weights):
        with tf.GradientTape() as tape:
            logits = self.copy_head(self.copy_meta(spectrogram, training=True), training=True)
            loss = common.weighted_cross_entropy(logits, emotion_labels, emotion_weights)
        return tape.gradient(loss, self.copy_head.trainable_variables)

    def _query_gradients_eager(self, spectrogram, emotion_labels, emotion_weights):
        variables = self.copy_meta.trainable_variables + self.copy_head.trainable_variables
        with tf.GradientTape() as tape:
            logits = self.copy_head(self.copy_meta(spectrogram, training=True), training=True)
            loss = common.weighted_cross_entropy(logits, emotion_labels, emotion_weights)
        return tape.gradient(loss, variables)

    def step(self, episode: dict) -> None:
        """One outer step over every speaker of `episode` (the dict of `random_episode`)."""
        spectrogram, labels = episode["spectrogram"], episode["labels"]
        weights = common.sample_weights(episode["class_weights"], labels)
        speakers = int(spectrogram.shape[0])
        sums = None
        for speaker in range(speakers):
            x, y, w = spectrogram[speaker], labels[speaker], weights[speaker]
            self.copy_meta.set_weights(self.meta.get_weights())
            self.copy_head.set_weights(self.head.get_weights())
            task_gradients = [self._task_gradients(x, y[:, task], w[:, task])
                              for task in self.aux_indices]
            mean = [tf.add_n(list(parts)) / len(task_gradients) for parts in zip(*task_gradients)]
            self.support_optimizer.apply_gradients(zip(mean, self.copy_meta.trainable_variables))
            transfer = self._transfer_gradients(x, y[:, 0], w[:, 0])
            self.transfer_optimizer.apply_gradients(
                zip(transfer, self.copy_head.trainable_variables))
            query = self._query_gradients(x, y[:, 0], w[:, 0])
            sums = query if sums is None else [a + b for a, b in zip(sums, query)]
        variables = self.meta.trainable_variables + self.head.trainable_variables
        self.outer_optimizer.apply_gradients(zip([g / speakers for g in sums], variables))
        _ = variables[0].numpy()


def vs_reference_schedule(model_config, speakers: int, segments_per_speaker: int, rounds: int,
                          with_graph: bool = False, with_eager: bool = True,
                          outer_step: OuterStep = None) -> dict:
    """Figure 2: the authors' schedule (eager Keras) / our outer step, on the same episode.

    Args:
      with_graph: also time the reference with each pass in a tf.function (`graph_ratio`: what
        the schedule's extra passes cost without eager execution).
      with_eager: time the eager reference (the figure); without it the value is `graph_ratio`.

    Returns:
      dict: `value`, `ours_seconds`, `reference_seconds` and/or `reference_graph_seconds` and
      `graph_ratio`, the per-round seconds and cores kept busy.
    """
    outer_step = outer_step or build_outer_step(model_config, speakers, segments_per_speaker)
    train_config = outer_step.algorithm.train_config
    calls, warm_up = {"ours": outer_step.run}, ["ours"]
    if with_eager:
        reference = ReferenceSchedule(model_config, train_config)
        calls["reference"] = lambda: reference.step(outer_step.episode)
        if rounds > 1:
            warm_up.append("reference")
    if with_graph:
        compiled = ReferenceSchedule(model_config, train_config, compiled=True)
        calls["reference_graph"] = lambda: compiled.step(outer_step.episode)
        warm_up.append("reference_graph")
    timed = time_alternating(calls, rounds, warm_up)
    ours = timed["ours"]["median"]
    tasks = len(train_config.aux_tasks)
    result = {"ours_seconds": ours,
              "rounds": {name: value["seconds"] for name, value in timed.items()},
              "cpu_per_wall": {name: value["cpu_per_wall"] for name, value in timed.items()},
              "speakers": speakers, "segments_per_speaker": segments_per_speaker,
              "auxiliary_tasks": tasks,
              "passes_per_speaker": {"ours": "2 forward + 2 backward",
                                     "reference": f"{tasks + 2} forward + {tasks + 1} backward"}}
    if with_eager:
        result["value"] = timed["reference"]["median"] / ours
        result["reference_seconds"] = timed["reference"]["median"]
    if with_graph:
        result["reference_graph_seconds"] = timed["reference_graph"]["median"]
        result["graph_ratio"] = timed["reference_graph"]["median"] / ours
        result.setdefault("value", result["graph_ratio"])
    return result


# -- figures 3 and 4: data ----------------------------------------------------------------------
def synthetic_corpus(work_dir: str, utterances_per_speaker: int, max_seconds: float,
                     feature_config: config_lib.FeatureConfig):
    """Generates and prepares a small synthetic corpus (its printed summary is swallowed).

    Returns:
      (listing, tfrecord_dir, manifest).
    """
    from mmtl_tf.corpora import synthetic  # pylint: disable=import-outside-toplevel

    listing = synthetic.read_synthetic(os.path.join(work_dir, "corpus"),
                                       utterances_per_speaker=utterances_per_speaker,
                                       max_seconds=max_seconds)
    tfrecord_dir = os.path.join(work_dir, "shards")
    with contextlib.redirect_stdout(io.StringIO()):
        manifest = preparation.prepare_corpus(listing, feature_config, tfrecord_dir,
                                              show_progress=False)
    return listing, tfrecord_dir, manifest


def input_headroom(tfrecord_dir: str, manifest: dict, feature_config, segments_per_speaker: int,
                   step_segments_per_second: float, epochs: int, fold: int = 2) -> dict:
    """Figure 3: segments/s the episode pipeline delivers alone / segments/s the step consumes.

    The pipeline serves every training speaker of `fold` (m = all, as the paper preset), one
    fresh `episode_dataset` per epoch as training makes them; epoch 0 is an untimed warm-up. The
    value is the steady rate (from each epoch's first episode to its end); the details add the
    wait for an epoch's first episode and the rate with those waits included.

    Args:
      step_segments_per_second: m*B / outer-step seconds (from figure 1).
      epochs: timed epochs.
    """
    split = episodes.fold_split(manifest, fold)
    steady_segments, steady_seconds, all_segments, all_seconds, first_waits = 0, 0.0, 0, 0.0, []
    for epoch in range(epochs + 1):
        started = time.perf_counter()
        dataset = episodes.episode_dataset(tfrecord_dir, manifest, split.train,
                                           segments_per_speaker, feature_config, NUM_CLASSES,
                                           seed=0, epoch=epoch)
        first_arrival, segments = None, 0
        for episode in dataset:
            count = int(np.prod(episode["spectrogram"].shape[:2]))
            if first_arrival is None:
                first_arrival = time.perf_counter()
            else:
                steady_segments += count if epoch else 0
            segments += count
        finished = time.perf_counter()
        if epoch:
            steady_seconds += finished - first_arrival
            all_segments += segments
            all_seconds += finished - started
            first_waits.append(first_arrival - started)
    if not steady_segments:
        return unavailable("every epoch has a single episode; use a larger corpus")
    steady = steady_segments / steady_seconds
    return {"value": steady / step_segments_per_second,
            "pipeline_segments_per_second": steady,
            "step_segments_per_second": step_segments_per_second,
            "with_epoch_start": (all_segments / all_seconds) / step_segments_per_second,
            "epoch_first_episode_seconds": statistics.median(first_waits),
            "speakers": len(split.train), "segments_per_speaker": segments_per_speaker,
            "steps_per_epoch": episodes.steps_per_epoch(manifest, split.train,
                                                        segments_per_speaker),
            "timed_epochs": epochs}


def librosa_features(waveform: np.ndarray, feature_config, librosa_module) -> list:
    """The spectrogram segments of one utterance with librosa (figure 4's baseline path).

    Same segmenting, Hamming window, hop, DFT, log power, normalisation and padding as
    `features.waveform_features`: the waveform is padded by (fft_length - window)/2 on each side
    so librosa's window, centred in its DFT frame, covers the same samples as TensorFlow's.

    Returns:
      list of (spectrogram float32 [max_frames, num_bins], num_frames), one per segment.
    """
    cfg = feature_config
    count = max(1, -(-len(waveform) // cfg.segment_samples))
    margin = (cfg.fft_length - cfg.window_samples) // 2
    outputs = []
    for index in range(count):
        segment = waveform[index * len(waveform) // count:(index + 1) * len(waveform) // count]
        num_frames = cfg.frames_for(len(segment))
        padded = np.pad(segment, (margin, cfg.fft_length - cfg.window_samples - margin))
        spectrum = librosa_module.stft(padded, n_fft=cfg.fft_length, hop_length=cfg.hop_samples,
                                       win_length=cfg.window_samples, window="hamming",
                                       center=False)[:cfg.num_bins, :num_frames]
        log_power = np.log(np.abs(spectrum) ** 2 + cfg.log_floor).T
        mean = log_power.mean()
        normalised = (log_power - mean) / (np.sqrt(np.mean((log_power - mean) ** 2)) + 1e-5)
        spectrogram = np.zeros((cfg.max_frames, cfg.num_bins), np.float32)
        spectrogram[:num_frames] = normalised
        outputs.append((spectrogram, num_frames))
    return outputs


def librosa_prepare(listing, feature_config, output_dir: str, librosa_module,
                    segments_per_shard: int = 2000) -> int:
    """Writes every speaker's segment TFRecords with librosa features, in one plain loop.

    Returns:
      Segments written.
    """
    os.makedirs(output_dir, exist_ok=True)
    by_speaker = {}
    for utterance in listing.utterances:
        by_speaker.setdefault(utterance.speaker, []).append(utterance)
    written = 0
    for speaker in sorted(by_speaker):
        segments = []
        for utterance in by_speaker[speaker]:
            waveform, _ = librosa_module.load(utterance.path, sr=feature_config.sample_rate,
                                              mono=True)
            for index, (spectrogram, frames) in enumerate(
                    librosa_features(waveform, feature_config, librosa_module)):
                segments.append(tfrecords.serialize_segment(utterance, index, spectrogram, frames))
        count = max(1, -(-len(segments) // segments_per_shard))
        for shard in range(count):
            path = os.path.join(output_dir, tfrecords.shard_name(speaker, shard, count))
            with tf.io.TFRecordWriter(path) as writer:
                for record in segments[shard * segments_per_shard:(shard + 1) * segments_per_shard]:
                    writer.write(record)
        written += len(segments)
    return written


def prepare_speedup(listing, feature_config, work_dir: str, rounds: int,
                    profile: bool = False) -> dict:
    """Figure 4: prepare_corpus audio seconds/s / the single-process librosa loop's.

    Both write into a fresh directory every call (prepare_corpus would otherwise skip finished
    speakers); the calls alternate. Neither needs a full warm-up: the process has prepared the
    corpus once already, and librosa's one-off compilation is triggered on a short input first.

    Args:
      profile: add `profile` (`prepare_profile`): where each path spends its time.
    """
    try:
        import librosa  # pylint: disable=import-outside-toplevel
    except ImportError as error:
        return unavailable(f"librosa is not installed ({error}); pip install -e '.[bench]'")
    headers = [audio.inspect_wav(utterance.path) for utterance in listing.utterances]
    audio_seconds = sum(header["num_frames"] / header["sample_rate"] for header in headers)
    counter = iter(range(10 ** 6))
    first = listing.utterances[0]
    waveform, _ = librosa.load(first.path, sr=feature_config.sample_rate, mono=True)
    theirs = np.stack([s for s, _ in librosa_features(waveform, feature_config, librosa)])

    def fresh(name):
        return os.path.join(work_dir, f"{name}-{next(counter)}")

    def run_prepare():
        path = fresh("prepare")
        with contextlib.redirect_stdout(io.StringIO()):
            preparation.prepare_corpus(listing, feature_config, path, show_progress=False)
        shutil.rmtree(path)

    def run_librosa():
        path = fresh("librosa")
        librosa_prepare(listing, feature_config, path, librosa)
        shutil.rmtree(path)

    timed = time_alternating({"prepare_corpus": run_prepare, "librosa": run_librosa}, rounds,
                             warm_up=())
    from mmtl_tf import features  # pylint: disable=import-outside-toplevel
    ours = features.waveform_features(waveform[np.newaxis], [len(waveform)], feature_config)
    result = {"value": timed["librosa"]["median"] / timed["prepare_corpus"]["median"],
              "prepare_audio_seconds_per_second":
                  audio_seconds / timed["prepare_corpus"]["median"],
              "librosa_audio_seconds_per_second": audio_seconds / timed["librosa"]["median"],
              "audio_seconds": audio_seconds, "utterances": len(listing.utterances),
              "rounds": {name: value["seconds"] for name, value in timed.items()},
              "cpu_per_wall": {name: value["cpu_per_wall"] for name, value in timed.items()},
              "max_abs_difference": float(np.max(np.abs(ours["spectrogram"].numpy() - theirs))),
              "librosa_version": librosa.__version__}
    if profile:
        result["profile"] = prepare_profile(listing, feature_config, work_dir, librosa)
    return result


def prepare_profile(listing, feature_config, work_dir: str, librosa_module) -> dict:
    """Seconds of each part of the two preparation paths over the whole listing.

    TensorFlow path: the wav header checks, the tf.data feature stream alone (loading with
    `audio.read_wav` and `features.waveform_features`, both maps parallel), the same two steps
    one utterance at a time without tf.data, and serialising and writing the records. Librosa
    path: loading and features.
    """
    # pylint: disable=protected-access; a profile of preparation's own stages
    seconds = {}
    started = time.perf_counter()
    lengths = {u.utterance_id: preparation._expected_samples(u, feature_config)
               for u in listing.utterances}
    seconds["tf_header_checks"] = time.perf_counter() - started
    started = time.perf_counter()
    computed = list(preparation._feature_stream(list(listing.utterances), lengths, feature_config))
    seconds["tf_feature_stream"] = time.perf_counter() - started
    started = time.perf_counter()
    waveforms = [audio.read_wav(u.path, feature_config.sample_rate) for u in listing.utterances]
    seconds["tf_read_wav_sequential"] = time.perf_counter() - started
    from mmtl_tf import features  # pylint: disable=import-outside-toplevel
    compute = tf.function(lambda waveform: features.waveform_features(
        waveform[tf.newaxis], tf.shape(waveform)[:1], feature_config)["spectrogram"],
        input_signature=[tf.TensorSpec([None], tf.float32)])
    compute(waveforms[0])
    started = time.perf_counter()
    for waveform in waveforms:
        compute(waveform).numpy()
    seconds["tf_features_sequential_in_memory"] = time.perf_counter() - started
    path = os.path.join(work_dir, "profile.tfrecord")
    started = time.perf_counter()
    with tf.io.TFRecordWriter(path) as writer:
        for utterance, values in computed:
            for row, index in enumerate(values["segment_index"]):
                writer.write(tfrecords.serialize_segment(utterance, int(index),
                                                         values["spectrogram"][row],
                                                         int(values["num_frames"][row])))
    seconds["serialize_and_write"] = time.perf_counter() - started
    started = time.perf_counter()
    waveforms = [librosa_module.load(u.path, sr=feature_config.sample_rate, mono=True)[0]
                 for u in listing.utterances]
    seconds["librosa_load"] = time.perf_counter() - started
    started = time.perf_counter()
    for waveform in waveforms:
        librosa_features(waveform, feature_config, librosa_module)
    seconds["librosa_features"] = time.perf_counter() - started
    os.remove(path)
    return {"seconds": seconds,
            "segments": sum(len(values["segment_index"]) for _, values in computed)}


# -- figure 5: serving --------------------------------------------------------------------------
def untrained_run_dir(model_config, feature_config, run_dir: str) -> str:
    """A run directory (config.json and a `latest` checkpoint) of freshly initialised weights."""
    keras.backend.clear_session()  # export restores by Keras variable path: fresh names
    experiment = dataclasses.replace(_experiment(model_config, 32, run_dir),
                                     features=feature_config)
    _, _, _, checkpoint = training.build_training(experiment, NUM_CLASSES)
    os.makedirs(run_dir, exist_ok=True)
    run_dir_lib.write_json(os.path.join(run_dir, "config.json"), {
        "experiment": experiment.to_dict(), "corpus": "synthetic",
        "class_names": list(CLASS_NAMES), "train_speakers": [], "val_speaker": "",
        "test_speaker": ""})
    tf.train.CheckpointManager(checkpoint, os.path.join(run_dir, "checkpoints", "latest"),
                               1).save()
    return run_dir


def serving_rtf(model_config, feature_config, work_dir: str, batch_sizes=(1, 32),
                seconds: float = 3.0, profile: bool = False) -> dict:
    """Figure 5: serving_default seconds per second of audio (the worse of `batch_sizes`).

    Args:
      profile: add `network_only`: the real-time factor of the `spectrogram` signature on the
        same number of segments (the network without the feature computation).
    """
    try:
        from mmtl_tf import export as export_lib  # pylint: disable=import-outside-toplevel
        export_run = export_lib.export_run
        measure = export_lib.serving_real_time_factor
    except (ImportError, AttributeError) as error:
        return unavailable(f"mmtl_tf.export has no serving_real_time_factor/export_run ({error})")
    run_dir = untrained_run_dir(model_config, feature_config, os.path.join(work_dir, "serving"))
    keras.backend.clear_session()
    version_dir = export_run(run_dir)
    factors = measure(version_dir, batch_sizes=tuple(batch_sizes), seconds=seconds)
    result = {"value": max(factors.values()),
              "per_batch_size": {str(size): factor for size, factor in factors.items()},
              "seconds_per_utterance": seconds}
    if profile:
        loaded = tf.saved_model.load(version_dir)
        network = loaded.signatures["spectrogram"]
        segments_per_utterance = max(1, int(np.ceil(seconds / feature_config.segment_seconds)))
        network_only = {}
        for size in batch_sizes:
            spectrogram = tf.random.normal([size * segments_per_utterance,
                                            feature_config.max_frames, feature_config.num_bins])
            timed = time_alternating({"network": lambda: network(
                spectrogram=spectrogram)["probabilities"].numpy()}, 3)
            network_only[str(size)] = timed["network"]["median"] / (size * seconds)
        result["network_only"] = network_only
    return result


# -- figure 6: replicas -------------------------------------------------------------------------
def replica_step(model_config, speakers: int, segments_per_speaker: int, num_cpu_devices: int,
                 rounds: int) -> dict:
    """Run in a fresh process: the mirrored step over `num_cpu_devices` logical CPUs vs default.

    Splits the CPU first (before any TensorFlow device work), then times, alternately, the
    MirroredStrategy step (each replica takes m / replicas speakers) and the default step.

    Returns:
      dict: `value` (mirrored / default), `mirrored_seconds`, `default_seconds`, or unavailable.
    """
    try:
        from mmtl_tf import distribution  # pylint: disable=import-outside-toplevel
        strategy = distribution.build_strategy("mirrored", num_cpu_devices=num_cpu_devices)
    except (ImportError, AttributeError, ValueError) as error:
        return unavailable(f"mmtl_tf.distribution.build_strategy: {error}")
    experiment = _experiment(model_config, segments_per_speaker)
    with strategy.scope():
        algorithm, optimizers, _, _ = training.build_training(experiment, NUM_CLASSES)
    try:
        mirrored = training.make_train_step(algorithm, optimizers, speakers, strategy=strategy)
    except TypeError as error:
        return unavailable(f"training.make_train_step has no strategy argument ({error})")
    default = build_outer_step(model_config, speakers, segments_per_speaker)
    episode = default.episode
    timed = time_alternating({"mirrored": lambda: bool(mirrored(episode)[1]),
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
                       num_cpu_devices: int = 2) -> subprocess.Popen:
    """Starts figure 6's subprocess (the logical CPUs need a TensorFlow of their own)."""
    command = [sys.executable, "-m", "mmtl_tf.bench", "--figure=replica_step",
               f"--num_cpu_devices={num_cpu_devices}", f"--preset={preset}",
               f"--speakers={speakers}", f"--segments_per_speaker={segments_per_speaker}",
               f"--rounds={rounds}"]
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=environment)


def finish_replica_step(process: subprocess.Popen, timeout: float = 3600) -> dict:
    """Figure 6: waits for `start_replica_step`'s subprocess and reads its JSON line."""
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return unavailable(f"replica_step subprocess took more than {timeout:.0f} s")
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if process.returncode != 0 or not lines:
        tail = (stderr.strip().splitlines() or ["no output"])[-1]
        return unavailable(f"replica_step subprocess failed (status {process.returncode}): "
                           f"{tail}")
    return json.loads(lines[-1])


def replica_ratio(preset: str, speakers: int, segments_per_speaker: int, rounds: int,
                  num_cpu_devices: int = 2) -> dict:
    """Figure 6: mirrored / default step time, measured in a subprocess (`replica_step`)."""
    return finish_replica_step(start_replica_step(preset, speakers, segments_per_speaker, rounds,
                                                  num_cpu_devices))


# -- figure 7: scaling and memory ---------------------------------------------------------------
def scaling(model_config, speakers_grid, segments_grid, rounds: int) -> dict:
    """Figure 7: outer-step seconds over an m x B grid, and their spread per segment.

    The training step is called from a tf.function whose input signature leaves m and B
    open, so the grid costs one trace; the grid points are timed round by round.

    Returns:
      dict: `value` (max / min of seconds per segment), `table` rows {m, B, seconds,
      seconds_per_segment, relative} (relative: per-segment time / the grid's median), and
      `speaker_linearity` (for each B: time at the largest m / time at the smallest m, divided
      by the ratio of the m's; 1 is exactly linear).
    """
    algorithm, optimizers, _, _ = training.build_training(
        _experiment(model_config, max(segments_grid)), NUM_CLASSES)
    largest = max(speakers_grid)
    training_step = training.make_train_step(algorithm, optimizers, largest)
    frames, bins = model_config.num_frames, model_config.num_bins
    signature = {"spectrogram": tf.TensorSpec([None, None, frames, bins], tf.float32),
                 "labels": tf.TensorSpec([None, None, 4], tf.int32),
                 "class_weights": tf.TensorSpec([None, 4, NUM_CLASSES], tf.float32)}
    relaxed = tf.function(lambda episode: training_step(episode)[1], input_signature=[signature])
    grid = [(m, b) for m in speakers_grid for b in segments_grid]
    calls = {}
    for m, b in grid:
        episode = random_episode(m, b, model_config, seed=m * 100 + b)
        calls[f"{m}x{b}"] = (lambda e: lambda: bool(relaxed(e)))(episode)
    timed = time_alternating(calls, rounds, warm_up=list(calls)[:1])
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


def memory_kilobytes() -> dict:
    """This process's peak and current resident memory in kB (VmHWM, VmRSS)."""
    found = {}
    try:
        with open("/proc/self/status", encoding="utf-8") as handle:
            for line in handle:
                name, _, value = line.partition(":")
                if name in ("VmHWM", "VmRSS"):
                    found[name] = int(value.split()[0])
    except OSError:
        pass
    if "VmHWM" not in found:
        found["VmHWM"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return found


def rss_growth(model_config, speakers: int, segments_per_speaker: int, checkpoints=(5, 50),
               outer_step: OuterStep = None) -> dict:
    """Figure 7b: peak RSS growth between two step counts of the training step.

    Returns:
      dict: `value` (VmHWM after the last checkpoint / after the first - 1), the VmHWM and
      VmRSS in kB after the checkpoint steps and four steps between them, and
      `second_half_growth` (the same over the later half of the steps): a leak grows in both
      halves, the allocators' warm-up only in the first.
    """
    outer_step = outer_step or build_outer_step(model_config, speakers, segments_per_speaker)
    first, last = min(checkpoints), max(checkpoints)
    read_at = set(checkpoints) | set(range(first, last + 1, max(1, (last - first) // 5)))
    readings = {}
    for step in range(1, last + 1):
        outer_step.run()
        if step in read_at:
            readings[str(step)] = memory_kilobytes()
    middle = readings[str(max(step for step in map(int, readings) if step <= (first + last) // 2))]
    first, last = readings[str(first)], readings[str(last)]
    return {"value": last["VmHWM"] / first["VmHWM"] - 1.0, "kilobytes": readings,
            "second_half_growth": last["VmHWM"] / middle["VmHWM"] - 1.0,
            "rss_growth": last.get("VmRSS", 0) / max(first.get("VmRSS", 1), 1) - 1.0,
            "speakers": speakers, "segments_per_speaker": segments_per_speaker}


# -- the whole run ------------------------------------------------------------------------------
def judge(name: str, record: dict) -> dict:
    """Adds the target and whether the figure meets it (None when unavailable)."""
    comparison, threshold, meaning = TARGETS[name]
    value = record.get("value")
    met = None
    if isinstance(value, (int, float)) and np.isfinite(value):
        met = bool(value <= threshold) if comparison == "<=" else bool(value >= threshold)
    return {"value": value, "target": f"{comparison} {threshold:g}", "met": met,
            "meaning": meaning, **{k: v for k, v in record.items() if k != "value"}}


def _guarded(name, function, *args, **kwargs) -> dict:
    """Runs one figure; an exception becomes an unavailable record (traceback on stderr)."""
    started = time.perf_counter()
    try:
        record = function(*args, **kwargs)
    except Exception as error:  # pylint: disable=broad-except
        traceback.print_exc()
        record = unavailable(f"{name} failed: {type(error).__name__}: {error}")
    record["wall_seconds"] = time.perf_counter() - started
    shown = record.get("value", record.get("unavailable", "done"))
    print(f"[bench] {name}: {shown} ({record['wall_seconds']:.0f} s)", file=sys.stderr,
          flush=True)
    return record


def run_benchmark(plan: BenchPlan, work_dir: str) -> dict:
    """Measures every figure of the module docstring.

    With `plan.profiles`, a figure that misses its target gets a short profile in its record
    (figure 1: `step_breakdown`; XLA slower than graph: `xla_loop_profile`; figure 2: the
    reference with compiled passes), and figures 4 and 5 always carry theirs
    (`prepare_profile`; the network without the features). With `plan.overlap_replicas`
    (--quick) figure 6's subprocess runs while the others are measured, which saves time and
    spoils its number.

    Args:
      plan: the sizes (`make_plan`).
      work_dir: a scratch directory for the corpus, shards and export.

    Returns:
      dict with `figures` (name -> judged record), `plan`, `environment` and `total_seconds`.
    """
    started = time.perf_counter()
    m, b, model_config = plan.speakers, plan.segments_per_speaker, plan.model_config
    records, steps = {}, {}
    replicas = (start_replica_step(plan.preset, m, b, plan.rounds)
                if plan.overlap_replicas else None)

    def outer_step(segments):
        if segments not in steps:
            steps[segments] = build_outer_step(model_config, m, segments)
        return steps[segments]

    def missed(name):
        return plan.profiles and judge(name, records[name])["met"] is False

    # First, so the process's peak memory is the training step's own.
    records["rss_growth"] = _guarded("rss_growth", lambda: rss_growth(
        model_config, m, plan.memory_segments_per_speaker, plan.memory_steps,
        outer_step(plan.memory_segments_per_speaker)))
    records["step_overhead"] = _guarded("step_overhead", lambda: step_overhead(
        model_config, m, b, plan.rounds, outer_step=outer_step(b)))
    if missed("step_overhead"):
        records["step_overhead"]["profile"] = _guarded(
            "step_overhead profile", lambda: step_breakdown(outer_step(b), plan.rounds))
    if plan.with_xla:
        records["step_overhead_xla"] = _guarded("step_overhead_xla", lambda: step_overhead_xla(
            model_config, m, plan.xla_segments_per_speaker, plan.xla_rounds, plan.profiles))
    else:
        records["step_overhead_xla"] = unavailable("skipped (--quick or --noxla)")
    records["vs_reference_schedule"] = _guarded("vs_reference_schedule", lambda: (
        vs_reference_schedule(model_config, m, b, plan.rounds, outer_step=outer_step(b))))
    if missed("vs_reference_schedule"):
        records["vs_reference_schedule"]["profile"] = _guarded(
            "vs_reference_schedule profile", lambda: vs_reference_schedule(
                model_config, m, b, plan.rounds, with_graph=True, with_eager=False,
                outer_step=outer_step(b)))
    steps.clear()
    records["scaling"] = _guarded("scaling", lambda: scaling(
        model_config, plan.scaling_speakers, plan.scaling_segments, plan.scaling_rounds))

    feature_config = config_lib.FeatureConfig(max_frames=model_config.num_frames,
                                              num_bins=model_config.num_bins)
    corpus = {}

    def corpus_parts():
        if not corpus:
            corpus["parts"] = synthetic_corpus(work_dir, plan.corpus_utterances,
                                               plan.corpus_max_seconds, feature_config)
        return corpus["parts"]

    step_seconds = records["step_overhead"].get("step_seconds")
    if step_seconds:
        records["input_headroom"] = _guarded("input_headroom", lambda: input_headroom(
            corpus_parts()[1], corpus_parts()[2], feature_config, b, m * b / step_seconds,
            plan.pipeline_epochs))
    else:
        records["input_headroom"] = unavailable("figure 1 gave no step time")
    records["prepare_speedup"] = _guarded("prepare_speedup", lambda: prepare_speedup(
        corpus_parts()[0], feature_config, work_dir, plan.prepare_rounds, plan.profiles))
    records["serving_rtf"] = _guarded("serving_rtf", lambda: serving_rtf(
        model_config, feature_config, work_dir, plan.serving_batch_sizes, plan.serving_seconds,
        plan.profiles))
    if replicas is None:
        records["replica_ratio"] = _guarded("replica_ratio", lambda: replica_ratio(
            plan.preset, m, b, plan.rounds))
    else:
        records["replica_ratio"] = _guarded("replica_ratio", lambda: finish_replica_step(replicas))
        records["replica_ratio"]["note"] = ("--quick: measured while the other figures ran, "
                                            "so the number means nothing")

    return {"figures": {name: _rounded(judge(name, records[name])) for name in FIGURES},
            "plan": config_lib.json_ready(dataclasses.asdict(plan)),
            "environment": {"tensorflow": tf.__version__, "keras": keras.__version__,
                            "cpu_count": os.cpu_count(),
                            "load_average": [round(x, 2) for x in os.getloadavg()],
                            "python": sys.version.split()[0]},
            "total_seconds": round(time.perf_counter() - started, 1)}


def format_table(results: dict) -> str:
    """The readable table: figure, value, target, met / not met / unavailable."""
    rows = [("figure", "value", "target", "status")]
    for name, record in results["figures"].items():
        value = record.get("value")
        if value is None:
            status, shown = f"unavailable: {record.get('unavailable', '?')}", "-"
        else:
            status, shown = ("met" if record["met"] else "NOT met"), f"{value:.4g}"
        rows.append((name, shown, record["target"], status))
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    lines = [f"{row[0]:<{widths[0]}}  {row[1]:>{widths[1]}}  {row[2]:<{widths[2]}}  {row[3]}"
             for row in rows]
    return "\n".join(lines)


# -- command line -------------------------------------------------------------------------------
# Flags shared by name with `mmtl_tf.main` (preset, num_cpu_devices, segments_per_speaker) keep
# its types and defaults, so importing both CLIs into one process changes neither.
_define = cli_flags.define_once
_define(flags.DEFINE_boolean, "quick", False,
        "A short run for CI (the smoke model unless --preset; one round; fewer steps; no XLA).")
_define(flags.DEFINE_string, "preset", "paper",
        "Model sizes and B from flags/<preset>.cfg: paper, demo or smoke (--quick: smoke unless "
        "given).")
_define(flags.DEFINE_string, "output", None, "Also write the JSON results to this file.")
_define(flags.DEFINE_boolean, "xla", True,
        "Also time figure 1 with jit_compile=True (XLA), beside the default graph step.")
_define(flags.DEFINE_enum, "figure", "all", ["all", "replica_step"],
        "all: every figure. replica_step: figure 6's measurement, one JSON line (the bench runs "
        "it in a subprocess).")
_define(flags.DEFINE_integer, "num_cpu_devices", 0,
        "--figure=replica_step: logical CPU devices (0 means 2).")
_define(flags.DEFINE_integer, "speakers", None, "m of figures 1, 2 and 6 (default 2).")
_define(flags.DEFINE_integer, "segments_per_speaker", config_lib.TrainConfig().segments_per_speaker,
        "B of figures 1-3 and 6, when given (default: the preset's).")
_define(flags.DEFINE_integer, "rounds", None, "Timed rounds per comparison (default 3, --quick 1).")
_define(flags.DEFINE_string, "work_dir", None,
        "Scratch directory (default: a temporary one, removed at the end).")
FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    preset = "smoke" if FLAGS.quick and not FLAGS["preset"].present else FLAGS.preset
    segments = FLAGS.segments_per_speaker if FLAGS["segments_per_speaker"].present else None
    try:
        plan = make_plan(preset, FLAGS.quick, FLAGS.speakers, segments, FLAGS.rounds, FLAGS.xla)
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    if FLAGS.figure == "replica_step":
        record = replica_step(plan.model_config, plan.speakers, plan.segments_per_speaker,
                              FLAGS.num_cpu_devices or 2, plan.rounds)
        print(json.dumps(_rounded(record)), flush=True)
        return
    work_dir = FLAGS.work_dir or tempfile.mkdtemp(prefix="mmtl_bench_")
    try:
        results = run_benchmark(plan, work_dir)
    finally:
        if not FLAGS.work_dir:
            shutil.rmtree(work_dir, ignore_errors=True)
    text = json.dumps(results, indent=2)
    if FLAGS.output:
        with open(FLAGS.output, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
    print(text)
    print()
    print(f"mmtl_tf.bench, preset {plan.preset}{' (--quick)' if FLAGS.quick else ''}, "
          f"{results['total_seconds']:.0f} s")
    print(format_table(results))


if __name__ == "__main__":
    app.run(main)

"""Profiles of the step figures, shown when one misses its target: where the outer step's time goes.

`step_breakdown` times the parts of the outer step (one speaker's share each) for
`step_overhead`; `xla_loop_profile` times a pass of the meta learner with and without XLA, inside
and outside a `tf.range` loop, for `step_overhead_xla`. The figures are in `step_figures`.
"""

import tensorflow as tf

from mmtl_tf.algorithms import common
from mmtl_tf.bench import outer_step as outer_step_lib
from mmtl_tf.bench import timing


def xla_loop_profile(algorithm, episode: dict, rounds: int) -> dict:
    """Seconds of one forward/backward pass of the meta learner: graph, XLA, XLA in a loop.

    The outer step visits speakers in a while-loop; this isolates what XLA does with a
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


def step_breakdown(outer_step: outer_step_lib.OuterStep, rounds: int) -> dict:
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

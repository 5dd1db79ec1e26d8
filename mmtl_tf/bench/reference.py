"""The speed reference: the authors' schedule written plainly, and `vs_reference_schedule`.

`ReferenceSchedule` is an independent copy of the algorithm, kept here only as a yardstick: it
runs the update the way the authors' PyTorch code does (a deep copy of the weights per speaker,
one eager pass per auxiliary task), so the figure says what our single-graph step saves.
"""

import keras
import tensorflow as tf

from mmtl_tf import labels
from mmtl_tf import models
from mmtl_tf.algorithms import common
from mmtl_tf.bench import outer_step as outer_step_lib
from mmtl_tf.bench import plan as plan_lib
from mmtl_tf.bench import timing


class ReferenceSchedule:
    """The authors' schedule written plainly, as their PyTorch code runs it (a speed yardstick).

    Per speaker: copy theta and phi into a second Keras model (get_weights/set_weights, the
    authors' deepcopy); one forward/backward pass per auxiliary task at the copied theta and an
    Adam(alpha) step on the copy with their mean gradient (Eq. 4); a pass through the moved meta
    learner and the head with an Adam(beta) step on the copy's head (Eq. 5); a pass with
    gradients for both (the fine-tune stage), summed over speakers. Then Adam(gamma) on the
    original weights with the mean (Eq. 6-7). Keras calls are eager unless `compiled`.
    """

    def __init__(self, model_config, train_config, num_classes: int = plan_lib.NUM_CLASSES,
                 compiled: bool = False):
        """Builds the networks, their copies and the three Adam optimizers.

        Args:
          model_config, train_config: as for training (learning rates, auxiliary tasks).
          num_classes: emotion classes.
          compiled: run each pass in a tf.function instead of eagerly.
        """
        self.aux_indices = tuple(labels.TASKS.index(task) for task in train_config.aux_tasks)
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
        """One outer step over every speaker of `episode` (an `outer_step.random_episode`)."""
        spectrogram, episode_labels = episode["spectrogram"], episode["labels"]
        weights = common.sample_weights(episode["class_weights"], episode_labels)
        speakers = int(spectrogram.shape[0])
        sums = None
        for speaker in range(speakers):
            x, y, w = spectrogram[speaker], episode_labels[speaker], weights[speaker]
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
                          outer_step: outer_step_lib.OuterStep = None) -> dict:
    """vs_reference_schedule: the authors' schedule (eager Keras) / our outer step, on the same episode.

    Args:
      with_graph: also time the reference with each pass in a tf.function (`graph_ratio`: what
        the schedule's extra passes cost without eager execution).
      with_eager: time the eager reference (the figure); without it the value is `graph_ratio`.

    Returns:
      dict: `value`, `ours_seconds`, `reference_seconds` and/or `reference_graph_seconds` and
      `graph_ratio`, the per-round seconds and cores kept busy.
    """
    outer_step = outer_step or outer_step_lib.build_outer_step(model_config, speakers,
                                                               segments_per_speaker)
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
    timed = timing.time_alternating(calls, rounds, warm_up)
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



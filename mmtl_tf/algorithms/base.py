"""The interface every algorithm implements, and the parts they share."""

import keras
import tensorflow as tf

from mmtl_tf.algorithms import common


class Algorithm:
    """Base class: networks, optimizers, the per-episode update and prediction.

    Subclasses set `self.meta` and `self.head` (`common.StatelessNetwork`, head may be None) and
    implement `step_updates`, `emotion_logits` and, when they adapt at meta-test, `adaptation_loss`.
    """

    name = "base"
    adapts_at_test = True

    def __init__(self, model_config, train_config, num_classes):
        self.model_config = model_config
        self.train_config = train_config
        self.num_classes = num_classes
        self.aux_indices = tuple(common.TASKS.index(task) for task in train_config.aux_tasks)
        self.meta = None
        self.head = None

    # -- weights -----------------------------------------------------------------------------
    def meta_weights(self):
        """Current theta as a list of tensors."""
        return self.meta.weights()

    def head_weights(self):
        """Current phi as a list of tensors (empty when the algorithm has no head)."""
        return self.head.weights() if self.head else []

    def meta_variables(self):
        """The Keras variables of theta."""
        return list(self.meta.variables)

    def head_variables(self):
        """The Keras variables of phi."""
        return list(self.head.variables) if self.head else []

    def networks(self):
        """Dict of the Keras models (checkpointed and exported)."""
        nets = {"meta": self.meta.model}
        if self.head:
            nets["head"] = self.head.model
        return nets

    # -- training ----------------------------------------------------------------------------
    def build_optimizers(self):
        """Dict name -> Keras optimizer; the default is one Adam(gamma) over theta and phi."""
        return {"outer": keras.optimizers.Adam(self.train_config.outer_learning_rate)}

    def step_updates(self, theta, phi, episode, class_weights, total_speakers):
        """Computes the updates of one outer step.

        Args:
          theta, phi: current weights (lists of tensors).
          episode: dict with `spectrogram` float32 [m, B, frames, bins] and `labels` int32
            [m, B, 4] (columns in `common.TASKS` order); m may be a replica's share of speakers.
          class_weights: float32 [m, 4, classes] per-speaker, per-task weights w'_{i,c}.
          total_speakers: speakers in the whole episode over all replicas (the mean's divisor).

        Returns:
          (updates, losses): updates maps an optimizer name to gradients for theta + phi (None
          for a weight that optimizer leaves alone); losses maps a name to per-speaker losses [m].
        """
        raise NotImplementedError

    def optimizer_variables(self, name):
        """The variables optimizer `name` updates (all of theta and phi unless overridden)."""
        return self.meta_variables() + self.head_variables()

    def apply_updates(self, optimizers, updates):
        """Applies `step_updates` output with the named optimizers."""
        variables = self.meta_variables() + self.head_variables()
        for optimizer_name, gradients in updates.items():
            pairs = [(g, v) for g, v in zip(gradients, variables) if g is not None]
            optimizers[optimizer_name].apply_gradients(pairs)

    # -- evaluation --------------------------------------------------------------------------
    def emotion_logits(self, theta, phi, spectrogram):
        """Emotion logits [batch, classes] for spectrogram segments [batch, frames, bins]."""
        raise NotImplementedError

    def adaptation_loss(self, theta, phi, spectrogram, labels, weights):
        """Auxiliary-task loss minimised over theta at meta-test (paper section 2.4).

        Args:
          theta, phi: weights (lists of tensors).
          spectrogram: float32 [batch, frames, bins] of the target speaker.
          labels: int32 [batch, 4]; weights: float32 [batch, 4] from `common.sample_weights`.
        """
        raise NotImplementedError


def flatten_speakers(episode, class_weights):
    """Merges the speaker axis of an episode for the joint baselines.

    Returns:
      (spectrogram [m*B, frames, bins], labels [m*B, 4], sample_weights [m*B, 4]) where
      sample_weights holds each segment's w'_{i,y} for each task.
    """
    spectrogram = episode["spectrogram"]
    labels = episode["labels"]
    sample_weights = common.sample_weights(class_weights, labels)
    frames_and_bins = tf.shape(spectrogram)[2:]
    flat_spectrogram = tf.reshape(spectrogram, tf.concat([[-1], frames_and_bins], axis=0))
    return flat_spectrogram, tf.reshape(labels, [-1, 4]), tf.reshape(sample_weights, [-1, 4])

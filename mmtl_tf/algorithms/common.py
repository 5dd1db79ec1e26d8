"""Pieces every training algorithm shares: stateless network calls, weighted losses, weight arithmetic.

Weights travel as lists of tensors (never per-speaker model copies): a `StatelessNetwork` calls
a Keras functional model with whatever weights it is given, through Keras 3's `stateless_call`.
"""

import tensorflow as tf

from mmtl_tf.labels import TASKS  # noqa: F401 (re-exported)


class StatelessNetwork:
    """A Keras model called with weights passed in as tensors.

    Attributes:
      model: the Keras functional model (its variables hold the current weights).
    """

    def __init__(self, model):
        self.model = model

    @property
    def variables(self):
        """The trainable Keras variables, in the order `call` expects their values."""
        return self.model.trainable_variables

    def weights(self):
        """The current trainable weights as a list of tensors (reads the variables)."""
        return [tf.convert_to_tensor(variable.value) for variable in self.model.trainable_variables]

    def call(self, weights, inputs):
        """Runs the model with `weights` (a list matching `variables`) on `inputs`."""
        state = [variable.value for variable in self.model.non_trainable_variables]
        outputs, _ = self.model.stateless_call(weights, state, inputs, training=False)
        return outputs


def sample_weights(class_weights, labels):
    """Each segment's class weight w'_{i,y} for every task (paper section 3.1.3).

    Args:
      class_weights: float32 [..., 4, classes]: per-task weights (of one speaker, or [m, 4, C]).
      labels: int32 [..., batch, 4] label columns in `TASKS` order (same leading shape).

    Returns:
      float32 [..., batch, 4]; 0 where a label is missing (-1).
    """
    labels = tf.cast(labels, tf.int32)
    by_task = tf.linalg.matrix_transpose(tf.maximum(labels, 0))  # [..., 4, batch]
    leading = len(class_weights.shape) - 1
    weights = tf.gather(class_weights, by_task, batch_dims=leading)
    return tf.where(labels < 0, 0.0, tf.linalg.matrix_transpose(weights))


def weighted_cross_entropy(logits, labels, weights):
    """Weighted softmax cross entropy averaged over the batch: mean_b w_b * CE(logits_b, y_b).

    The mean divides by the whole batch size: a segment with a missing label (-1) has weight 0,
    so it adds nothing to the sum, but it still counts in the divisor (a batch with half its
    labels missing gives half the loss of the same labelled segments alone). Class weights
    w'_{i,c} (paper section 3.1.3) are not normalised to sum to the batch size either.

    Args:
      logits: float32 [batch, classes].
      labels: int32 [batch] (a missing label -1 must carry weight 0).
      weights: float32 [batch], e.g. one column of `sample_weights`.
    """
    labels = tf.maximum(tf.cast(labels, tf.int32), 0)
    # Under --mixed_precision the logits are bfloat16; the loss is always taken in float32.
    cross_entropy = tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=labels, logits=tf.cast(logits, tf.float32))
    return tf.reduce_mean(weights * cross_entropy)


def aux_loss(logits_for_task, labels, weights, aux_indices):
    """Mean over the chosen auxiliary tasks j of their weighted losses: (1/k) sum_j L^{S,j}.

    Args:
      logits_for_task: task index -> logits [batch, 4] (MMTL's shared classifier returns the same
        logits for every task; MTL has a head per task).
      labels: int32 [batch, 4] label columns in `TASKS` order.
      weights: float32 [batch, 4] from `sample_weights`.
      aux_indices: task indices (1..3) of the chosen auxiliary tasks.
    """
    losses = [weighted_cross_entropy(logits_for_task(task), labels[:, task], weights[:, task])
              for task in aux_indices]
    return tf.add_n(losses) / float(len(aux_indices))


def zeros_like_all(tensors):
    """A list of zero tensors shaped like `tensors`."""
    return [tf.zeros_like(tensor) for tensor in tensors]


def add_all(left, right, scale=1.0):
    """Elementwise `left + scale * right` over two lists of tensors."""
    return [a + scale * b for a, b in zip(left, right)]


def all_finite(tensors):
    """True when every tensor of the list holds only finite values."""
    return tf.reduce_all([tf.reduce_all(tf.math.is_finite(tensor)) for tensor in tensors])

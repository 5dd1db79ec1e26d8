"""CNN-LSTM+MTL baseline (paper Table 2): shared CNN, one head per task, trained jointly.

theta is the shared CNN, phi the task heads (a BiLSTM-FC-FC head for emotion and for each chosen
auxiliary task). One step minimises, over all segments of the episode at once,
    L = L^Q + (1/k) sum_j L^{S,j}
with Adam(gamma). At meta-test the shared CNN is fine-tuned on the target speaker's auxiliary
tasks, exactly as MMTL's meta learner is (paper section 3.2).
"""

import tensorflow as tf

from mmtl_tf import models
from mmtl_tf.algorithms import base, common


class MultiTaskBaseline(base.Algorithm):
    """Hard parameter sharing: the CNN is shared, the recurrent heads are per task."""

    name = "mtl"

    def __init__(self, model_config, train_config, num_classes):
        super().__init__(model_config, train_config, num_classes)
        shared_cnn, heads = models.build_mtl_networks(model_config, num_classes,
                                                      train_config.aux_tasks)
        self.meta = common.StatelessNetwork(shared_cnn)
        self.head = common.StatelessNetwork(heads)

    def _losses(self, theta, phi, spectrogram, labels, weights):
        outputs = self.head.call(phi, self.meta.call(theta, spectrogram))
        query = common.weighted_cross_entropy(outputs["emotion"], labels[:, 0], weights[:, 0])
        support = common.aux_loss(lambda task: outputs[common.TASKS[task]], labels, weights,
                                  self.aux_indices)
        return query, support

    def step_updates(self, theta, phi, episode, class_weights, total_speakers):
        """One joint Adam step on L^Q + mean_j L^{S,j} over the episode (see `base.Algorithm`)."""
        spectrogram, labels, weights = base.flatten_speakers(episode, class_weights)
        share = tf.cast(tf.shape(episode["spectrogram"])[0], tf.float32) / float(total_speakers)
        with tf.GradientTape() as tape:
            tape.watch([theta, phi])
            query, support = self._losses(theta, phi, spectrogram, labels, weights)
            loss = (query + support) * share
        gradients = tape.gradient(loss, theta + phi)
        speakers = tf.shape(episode["spectrogram"])[0]
        return {"outer": gradients}, {"support_loss": tf.fill([speakers], support),
                                        "query_loss": tf.fill([speakers], query)}

    def emotion_logits(self, theta, phi, spectrogram):
        """The emotion head on the shared CNN."""
        return self.head.call(phi, self.meta.call(theta, spectrogram))["emotion"]

    def adaptation_loss(self, theta, phi, spectrogram, labels, weights):
        """Auxiliary-task loss through the shared CNN (fine-tuned at meta-test)."""
        return self._losses(theta, phi, spectrogram, labels, weights)[1]

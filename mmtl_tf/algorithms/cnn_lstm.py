"""CNN-LSTM baseline (paper Table 2, ref. [5]): the meta learner's network on emotion only.

The same CNN-BiLSTM-FC network as MMTL's meta learner, with FC_2 sized to the emotion classes,
trained with Adam(gamma) on the class-weighted emotion loss over all segments of the episode.
It has no auxiliary tasks, so there is nothing to fine-tune at meta-test: its adapted and
unadapted results are the same model.
"""

import tensorflow as tf

from mmtl_tf import models
from mmtl_tf.algorithms import base, common


class CnnLstmBaseline(base.Algorithm):
    """Emotion-only CNN-BiLSTM-FC."""

    name = "cnn_lstm"
    adapts_at_test = False

    def __init__(self, model_config, train_config, num_classes):
        super().__init__(model_config, train_config, num_classes)
        self.meta = common.StatelessNetwork(
            models.build_meta_learner(model_config, outputs=num_classes, name="cnn_lstm"))

    def step_updates(self, theta, phi, episode, class_weights, total_speakers):
        """One Adam step on the weighted emotion loss (see `base.Algorithm`)."""
        spectrogram, labels, weights = base.flatten_speakers(episode, class_weights)
        share = tf.cast(tf.shape(episode["spectrogram"])[0], tf.float32) / float(total_speakers)
        with tf.GradientTape() as tape:
            tape.watch(theta)
            query = common.weighted_cross_entropy(self.meta.call(theta, spectrogram),
                                                  labels[:, 0], weights[:, 0])
            loss = query * share
        speakers = tf.shape(episode["spectrogram"])[0]
        return {"outer": tape.gradient(loss, theta)}, {"query_loss": tf.fill([speakers], query)}

    def emotion_logits(self, theta, phi, spectrogram):
        """The network's logits."""
        return self.meta.call(theta, spectrogram)

    def adaptation_loss(self, theta, phi, spectrogram, labels, weights):
        """Not used: this baseline does not adapt at meta-test."""
        raise NotImplementedError("cnn_lstm has no auxiliary tasks to adapt on")

"""Meta Multi-task Learning (paper section 2, Algorithm 1), as a pure per-episode step.

For every speaker i of an episode (its segments X_i, auxiliary labels Y^S_i, emotion labels Y^Q_i):

  Multi-train stage, Eq. 4 (one forward/backward pass: the classifier is shared by the k tasks)
      theta'_i = theta - alpha/k * sum_j grad_theta L^{S,j}_i(theta)
  Knowledge-transfer stage, Eq. 5 (the meta learner's output at theta'_i is held fixed)
      phi'_i   = phi - beta * grad_phi L^Q_i(theta'_i, phi)
  Outer update, Eq. 6-7, first-order (the paper's "Reptile" approximation of MAML)
      g_i      = grad_{theta'_i, phi'_i} L^Q_i(theta'_i, phi'_i)
      (theta, phi) <- Adam(gamma) step along mean_i g_i

The forward pass at theta'_i is run once and serves both Eq. 5 and the outer gradient, so a
speaker costs two forward/backward passes of the meta learner. `--outer_update` picks the outer rule:

  first_order  the update above (default).
  reptile      each speaker goes on from (theta'_i, phi'_i) with one SGD step on L^Q_i to
               (theta''_i, phi''_i); (theta, phi) += epsilon * (mean_i (theta''_i, phi''_i) - (theta, phi)).
  reference    as the authors' code: before the first-order step, the speaker-averaged stage
               gradients at (theta, phi) are applied by two more Adam optimizers, one over theta
               (Eq. 4's gradient) and one over phi (Eq. 5's); like the authors' code, every Adam
               uses the outer learning rate gamma (alpha and beta size only the inner steps).

Speakers are visited by a `tf.while_loop` (one trace for any episode), so no model is ever
copied. Its iterations may overlap (`TrainConfig.parallel_speakers`, default 10,
TensorFlow's): one speaker's forward pass can run beside the previous one's backward pass, which
is faster on CPUs but holds two speakers' activations at once when it happens; 1 holds one.
"""

import keras
import tensorflow as tf

from mmtl_tf import models
from mmtl_tf.algorithms import base, common


class MetaMultiTask(base.Algorithm):
    """MMTL: meta learner theta (Table 1) and transfer learner phi."""

    name = "mmtl"

    def __init__(self, model_config, train_config, num_classes):
        super().__init__(model_config, train_config, num_classes)
        self.meta = common.StatelessNetwork(models.build_meta_learner(model_config))
        self.head = common.StatelessNetwork(models.build_transfer_learner(num_classes))

    def build_optimizers(self):
        """Adam(gamma) for the outer step; `reference` adds two Adam(gamma) (the authors' code
        builds all its Adams with the outer rate); `reptile` interpolates with SGD(epsilon)."""
        config = self.train_config
        if config.outer_update == "reptile":
            return {"outer": keras.optimizers.SGD(config.reptile_step_size)}
        optimizers = {"outer": keras.optimizers.Adam(config.outer_learning_rate)}
        if config.outer_update == "reference":
            optimizers["multi_train"] = keras.optimizers.Adam(config.outer_learning_rate)
            optimizers["transfer"] = keras.optimizers.Adam(config.outer_learning_rate)
        return optimizers

    def optimizer_variables(self, name):
        """`multi_train` moves theta only, `transfer` phi only, `outer` both."""
        return {"multi_train": self.meta_variables(),
                "transfer": self.head_variables()}.get(name, super().optimizer_variables(name))

    def _speaker_step(self, theta, phi, spectrogram, labels, weights):
        """Eq. 4, Eq. 5 and the first-order outer gradient for one speaker.

        Returns a dict of gradient lists (`multi_train` at theta, `transfer` at phi, `outer_theta`
        and `outer_phi` at (theta'_i, phi'_i)) and of scalar losses.
        """
        config = self.train_config
        # Eq. 4: one pass; the k auxiliary losses share the meta learner's logits.
        with tf.GradientTape() as tape:
            tape.watch(theta)
            aux_logits = self.meta.call(theta, spectrogram)
            support_loss = common.aux_loss(lambda task: aux_logits, labels, weights, self.aux_indices)
        multi_train_gradients = tape.gradient(support_loss, theta)
        adapted_theta = common.add_all(theta, multi_train_gradients, -config.meta_learning_rate)

        with tf.GradientTape() as outer_tape:
            outer_tape.watch(adapted_theta)
            meta_output = self.meta.call(adapted_theta, spectrogram)
            # Eq. 5 with the meta output held fixed (no gradient flows back into theta'_i).
            with outer_tape.stop_recording(), tf.GradientTape() as transfer_tape:
                transfer_tape.watch(phi)
                transfer_loss = common.weighted_cross_entropy(
                    self.head.call(phi, tf.stop_gradient(meta_output)), labels[:, 0], weights[:, 0])
            transfer_gradients = transfer_tape.gradient(transfer_loss, phi)
            adapted_phi = [tf.stop_gradient(p) for p in
                           common.add_all(phi, transfer_gradients, -config.transfer_learning_rate)]
            outer_tape.watch(adapted_phi)
            query_loss = common.weighted_cross_entropy(
                self.head.call(adapted_phi, meta_output), labels[:, 0], weights[:, 0])
        outer_theta, outer_phi = outer_tape.gradient(query_loss, [adapted_theta, adapted_phi])
        return {"multi_train": multi_train_gradients, "transfer": transfer_gradients,
                "outer_theta": outer_theta, "outer_phi": outer_phi,
                "support_loss": support_loss, "transfer_loss": transfer_loss,
                "query_loss": query_loss,
                # NaN/inf here names the speaker even when its losses stayed finite.
                "outer_gradient_norm": tf.linalg.global_norm(outer_theta + outer_phi)}

    def step_updates(self, theta, phi, episode, class_weights, total_speakers):
        """Algorithm 1, lines 2-11, for the speakers of `episode` (see `base.Algorithm`)."""
        config = self.train_config
        spectrogram, labels = episode["spectrogram"], episode["labels"]
        weights = common.sample_weights(class_weights, labels)
        speakers = tf.shape(spectrogram)[0]
        sums = {"multi_train": common.zeros_like_all(theta), "transfer": common.zeros_like_all(phi),
                "outer_theta": common.zeros_like_all(theta), "outer_phi": common.zeros_like_all(phi)}
        losses = {name: tf.TensorArray(tf.float32, size=speakers)
                  for name in ("support_loss", "transfer_loss", "query_loss", "outer_gradient_norm")}

        def visit(speaker, sums, losses):
            result = self._speaker_step(theta, phi, spectrogram[speaker], labels[speaker],
                                        weights[speaker])
            return (speaker + 1, {name: common.add_all(sums[name], result[name]) for name in sums},
                    {name: losses[name].write(speaker, result[name]) for name in losses})

        _, sums, losses = tf.while_loop(lambda speaker, *_: speaker < speakers, visit,
                                        (tf.constant(0), sums, losses),
                                        parallel_iterations=config.parallel_speakers)
        mean = {name: [g / float(total_speakers) for g in sums[name]] for name in sums}

        if config.outer_update == "reptile":
            # theta - theta''_i = alpha * g^S_i + lr * g^Q_i, so the mean difference is linear in
            # the sums; an SGD(epsilon) step along it is Reptile's interpolation.
            rate = config.reptile_inner_learning_rate
            direction = (common.add_all([config.meta_learning_rate * g for g in mean["multi_train"]],
                                        mean["outer_theta"], rate)
                         + common.add_all([config.transfer_learning_rate * g for g in mean["transfer"]],
                                          mean["outer_phi"], rate))
            updates = {"outer": direction}
        else:
            updates = {"outer": mean["outer_theta"] + mean["outer_phi"]}
            if config.outer_update == "reference":
                no_phi = [None] * len(phi)
                no_theta = [None] * len(theta)
                updates["multi_train"] = mean["multi_train"] + no_phi
                updates["transfer"] = no_theta + mean["transfer"]
        return updates, {name: array.stack() for name, array in losses.items()}

    def emotion_logits(self, theta, phi, spectrogram):
        """Transfer learner on the meta learner: emotion logits [batch, classes]."""
        return self.head.call(phi, self.meta.call(theta, spectrogram))

    def adaptation_loss(self, theta, phi, spectrogram, labels, weights):
        """(1/k) sum_j L^{S,j} at theta: what meta-test fine-tuning minimises."""
        logits = self.meta.call(theta, spectrogram)
        return common.aux_loss(lambda task: logits, labels, weights, self.aux_indices)

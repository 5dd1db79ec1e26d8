"""Meta-test (paper section 2.4) and the metrics of section 3.1.2.

For a target speaker:
1. Adaptation: the meta weights theta take `adapt_steps` steps on batches of B of the speaker's
   own segments, minimising its auxiliary-task loss (V/A/D labels); the head phi stays as
   trained. By default each is a plain gradient step of size alpha: exactly the inner step of
   Eq. 4, the update meta-training prepares theta to benefit from (`--test_adapt_optimizer=adam`
   takes Adam steps instead, at gamma unless `--test_adapt_learning_rate` says otherwise). The
   number of steps was chosen by an ablation on validation speakers (BUILD.md). The adapted
   weights are tensors local to this call, so nothing persists into training.
2. Prediction: every segment gets emotion posteriors; an utterance's posterior is the mean of its
   segments'; the predicted class is the argmax.
3. Metrics over utterances: UA (unweighted accuracy, the mean of per-class recall over the
   classes present in the speaker's labels), WA (accuracy), confusion matrix, per-class recall.
   Where a fold tests several speakers (a held-out session of more than two), each is adapted on
   its own and the metrics are over all their utterances together (`evaluate_speakers`).
The same model is also scored with no adaptation: the deployable setting, where a new speaker
comes with no V/A/D labels.
"""

import copy

import keras
import numpy as np
import tensorflow as tf

from mmtl_tf.algorithms import common

_PREDICT_BATCH = 64
_BETA_1, _BETA_2, _EPSILON = 0.9, 0.999, 1e-7
_TRACED = {}  # (networks and settings) -> (adapt, logits) tf.functions, one per process


class NonFiniteEvaluationError(RuntimeError):
    """The model's posteriors on a held-out speaker are NaN/inf (an argmax would silently make
    them class 0); the message names the speaker's first utterance and what to change."""


class SpeakerEvaluator:
    """Adapts and scores one algorithm on held-out speakers; its tf.functions trace once.

    Args:
      algorithm: a trained `algorithms.base.Algorithm`.
      learning_rate: the adaptation step size (`TrainConfig.adapt_learning_rate`).
      adapt_steps: adaptation steps (0 scores the trained model only).
      batch_size: segments per adaptation step (B, as in meta-training).
      seed: seeds the order of the adaptation batches.
      optimizer: "sgd" or "adam".
    """

    def __init__(self, algorithm, learning_rate: float, adapt_steps: int, batch_size: int, seed: int,
                 optimizer: str = "sgd"):
        self.algorithm = algorithm
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.adapt_steps = adapt_steps if algorithm.adapts_at_test else 0
        self.batch_size = batch_size
        self.seed = seed
        # One trace each for any speaker and step count (their sizes are None in the signatures),
        # and plain graph code (explicit tf.while_loop): no AutoGraph conversion to pay. The
        # traced functions are shared by every evaluator of the same networks and settings in
        # the process (`--fold=all`, a sweep and the ablation build one per fold): the weights
        # are their arguments, so a later fold's evaluator retraces nothing.
        key = (type(algorithm).__name__, algorithm.model_config, algorithm.train_config,
               algorithm.num_classes, batch_size, optimizer, float(learning_rate),
               keras.mixed_precision.global_policy().name)
        if key not in _TRACED:
            _TRACED[key] = self._trace()
        self._adapt, self._logits = _TRACED[key]

    def _trace(self):
        """(adapt, logits): this evaluator's tf.functions, with their input signatures."""
        algorithm, model = self.algorithm, self.algorithm.model_config
        theta = [tf.TensorSpec(w.shape, w.dtype) for w in algorithm.meta_weights()]
        phi = [tf.TensorSpec(w.shape, w.dtype) for w in algorithm.head_weights()]
        spectrogram = tf.TensorSpec([None, model.num_frames, model.num_bins], tf.float32)
        adapt = tf.function(self._adapt_graph, autograph=False, input_signature=[
            theta, phi, spectrogram, tf.TensorSpec([None, len(common.TASKS)], tf.int32),
            tf.TensorSpec([None, len(common.TASKS)], tf.float32),
            tf.TensorSpec([None, self.batch_size], tf.int32)])
        logits = tf.function(algorithm.emotion_logits, autograph=False,
                             input_signature=[theta, phi, spectrogram])
        return adapt, logits

    def _adapt_graph(self, theta, phi, spectrogram, labels, weights, batches):
        """SGD or Adam on the auxiliary loss over `batches` [steps, B] of segment indices."""

        def gradients_at(step, theta):
            index = batches[step]
            with tf.GradientTape() as tape:
                tape.watch(theta)
                loss = self.algorithm.adaptation_loss(
                    theta, phi, tf.gather(spectrogram, index), tf.gather(labels, index),
                    tf.gather(weights, index))
            return tape.gradient(loss, theta)

        def sgd_step(step, theta):
            return step + 1, common.add_all(theta, gradients_at(step, theta), -self.learning_rate)

        def adam_step(step, theta, first, second):
            gradients = gradients_at(step, theta)
            t = tf.cast(step + 1, tf.float32)
            rate = self.learning_rate * tf.sqrt(1.0 - _BETA_2 ** t) / (1.0 - _BETA_1 ** t)
            first = [_BETA_1 * m + (1.0 - _BETA_1) * g for m, g in zip(first, gradients)]
            second = [_BETA_2 * v + (1.0 - _BETA_2) * tf.square(g) for v, g in zip(second, gradients)]
            theta = [w - rate * m / (tf.sqrt(v) + _EPSILON) for w, m, v in zip(theta, first, second)]
            return step + 1, theta, first, second

        steps = tf.shape(batches)[0]
        if self.optimizer == "sgd":
            return tf.while_loop(lambda step, _: step < steps, sgd_step, (tf.constant(0), theta))[1]
        return tf.while_loop(lambda step, *_: step < steps, adam_step,
                             (tf.constant(0), theta, common.zeros_like_all(theta),
                              common.zeros_like_all(theta)))[1]

    def with_adapt_steps(self, adapt_steps: int) -> "SpeakerEvaluator":
        """This evaluator with another number of adaptation steps, sharing its traced functions
        (the number of steps is data to them, so comparing counts traces nothing new)."""
        other = copy.copy(self)
        other.adapt_steps = adapt_steps if self.algorithm.adapts_at_test else 0
        return other

    def adaptation_batches(self, count: int) -> np.ndarray:
        """Segment indices [adapt_steps, B] of the adaptation steps over `count` segments.

        Each pass visits every segment once in a seeded random order; passes repeat as needed.
        """
        rng = np.random.default_rng(self.seed)
        needed = self.adapt_steps * self.batch_size
        order = np.concatenate([rng.permutation(count) for _ in range(needed // count + 1)])
        return order[:needed].reshape(self.adapt_steps, self.batch_size).astype(np.int32)

    def segment_probabilities(self, theta, phi, spectrogram) -> np.ndarray:
        """Emotion posteriors [N, classes] of segments [N, frames, bins]."""
        outputs = []
        for start in range(0, len(spectrogram), _PREDICT_BATCH):
            logits = self._logits(theta, phi, tf.constant(spectrogram[start:start + _PREDICT_BATCH]))
            outputs.append(tf.nn.softmax(logits).numpy())
        return np.concatenate(outputs)

    def evaluate(self, segments: dict, speaker_class_weights: np.ndarray, class_names) -> dict:
        """Scores the current weights on one speaker, with and without adaptation.

        Args:
          segments: `episodes.speaker_segments` output for the speaker.
          speaker_class_weights: float32 [4, C] the speaker's own w'_{i,c}.
          class_names: emotion class names.

        Returns:
          {"adapted": metrics, "no_adapt": metrics}; see `utterance_metrics`.
        """
        scores = self.evaluate_speakers([(segments, speaker_class_weights)], class_names)
        return {"adapted": scores["adapted"], "no_adapt": scores["no_adapt"]}

    def evaluate_speakers(self, speakers, class_names) -> dict:
        """Scores the current weights on several speakers together, each adapted on its own.

        Args:
          speakers: [(segments, speaker_class_weights)] as `evaluate` takes them, one per speaker.
          class_names: emotion class names.

        Returns:
          {"adapted": metrics, "no_adapt": metrics} over the utterances of every speaker, and
          "per_speaker": [{"adapted": metrics, "no_adapt": metrics}] in the order given.
        """
        theta = self.algorithm.meta_weights()
        phi = self.algorithm.head_weights()
        predictions = {"adapted": [], "no_adapt": []}
        for segments, speaker_class_weights in speakers:
            plain = utterance_predictions(self._finite_probabilities(
                theta, phi, segments, "with the trained weights; train again with lower learning "
                "rates (--rerun, or another --run_dir)"), segments)
            adapted = plain
            if self.adapt_steps:
                adapted_theta = self.adapted_weights(segments, speaker_class_weights)
                adapted = utterance_predictions(self._finite_probabilities(
                    adapted_theta, phi, segments,
                    f"after the meta-test adaptation ({self.adapt_steps} {self.optimizer} steps "
                    f"at learning rate {self.learning_rate:g}), which diverged; lower "
                    f"--test_adapt_learning_rate (0 takes --meta_learning_rate for sgd) or "
                    f"--test_adapt_steps"), segments)
            predictions["no_adapt"].append(plain)
            predictions["adapted"].append(adapted)
        scores = {setting: classification_metrics(
            np.concatenate([truth for truth, _ in pairs]),
            np.concatenate([predicted for _, predicted in pairs]), class_names)
            for setting, pairs in predictions.items()}
        scores["per_speaker"] = [
            {setting: classification_metrics(*predictions[setting][index], class_names)
             for setting in ("adapted", "no_adapt")} for index in range(len(speakers))]
        return scores

    def _finite_probabilities(self, theta, phi, segments: dict, cause: str) -> np.ndarray:
        """`segment_probabilities`, refused with NonFiniteEvaluationError naming `cause` when
        any is NaN/inf."""
        probabilities = self.segment_probabilities(theta, phi, segments["spectrogram"])
        if not np.all(np.isfinite(probabilities)):
            first = segments["utterance_id"][0]
            raise NonFiniteEvaluationError(
                f"non-finite emotion posteriors for the speaker of utterance "
                f"{first.decode() if isinstance(first, bytes) else first} {cause}")
        return probabilities

    def adapted_weights(self, segments: dict, speaker_class_weights: np.ndarray) -> list:
        """theta after the meta-test adaptation on one speaker (step 1 of the module docstring).

        Args:
          segments: `episodes.speaker_segments` output for the speaker.
          speaker_class_weights: float32 [4, C] the speaker's own w'_{i,c}.

        Returns:
          The adapted meta weights, a list of tensors (the model's variables are untouched).
        """
        theta = self.algorithm.meta_weights()
        if not self.adapt_steps:
            return theta
        weights = common.sample_weights(tf.constant(speaker_class_weights),
                                        tf.constant(segments["labels"]))
        return self._adapt(theta, self.algorithm.head_weights(),
                           tf.constant(segments["spectrogram"]), tf.constant(segments["labels"]),
                           weights, tf.constant(self.adaptation_batches(len(segments["labels"]))))


def utterance_metrics(segment_probabilities: np.ndarray, segments: dict, class_names) -> dict:
    """Averages segment posteriors per utterance and scores the utterance predictions.

    Args:
      segment_probabilities: float [N, C].
      segments: dict with `utterance_id` [N] and `labels` int [N, 4] (column 0 is emotion).
      class_names: the C class names.

    Returns:
      dict with `ua`, `wa`, `confusion` (rows true, columns predicted, utterance counts),
      `per_class_recall` ({name: recall or None when absent}) and `utterances`.
    """
    return classification_metrics(*utterance_predictions(segment_probabilities, segments),
                                  class_names)


def utterance_predictions(segment_probabilities: np.ndarray, segments: dict) -> tuple:
    """(true classes, predicted classes) of one speaker's utterances, in utterance-id order: an
    utterance's posterior is the mean of its segments' (see `utterance_metrics`)."""
    ids, inverse = np.unique(segments["utterance_id"], return_inverse=True)
    count = len(ids)
    sums = np.zeros((count, segment_probabilities.shape[1]))
    np.add.at(sums, inverse, segment_probabilities)
    truth = np.zeros(count, np.int64)
    truth[inverse] = segments["labels"][:, 0]
    return truth, sums.argmax(axis=1)


def classification_metrics(truth, predicted, class_names) -> dict:
    """UA, WA, confusion matrix and per-class recall (see the module docstring)."""
    classes = len(class_names)
    confusion = np.zeros((classes, classes), np.int64)
    np.add.at(confusion, (np.asarray(truth), np.asarray(predicted)), 1)
    support = confusion.sum(axis=1)
    recall = {name: (float(confusion[c, c] / support[c]) if support[c] else None)
              for c, name in enumerate(class_names)}
    present = [r for r in recall.values() if r is not None]
    return {"ua": float(np.mean(present)) if present else 0.0,
            "wa": float(np.trace(confusion) / max(confusion.sum(), 1)),
            "confusion": confusion.tolist(), "per_class_recall": recall,
            "utterances": int(confusion.sum())}

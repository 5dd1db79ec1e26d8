"""The exported object: `ServingModule`, its variables and its three signatures.

The module docstring of `mmtl_tf.export` describes what the signatures take and give. Two
things here are about how TF Serving runs them:

- Keras 3 variables wrap a `tf.Variable` (`keras.Variable.value`). Saving a tf.Module that
  tracks the Keras models records the Keras variables in the object graph, but the signatures
  capture the handles of the wrapped `tf.Variable`s, which the TF1 session loader used by TF
  Serving and `saved_model_cli run` then never restores ("Could not find variable fc_1/kernel";
  keras-team/keras#19274, tensorflow/serving#2250). The module therefore tracks the wrapped
  `tf.Variable`s themselves (`network_variables`), not the Keras models: each weight is saved
  once, under the object the signatures read.
- The features and the network run over at most `chunk_segments` segments at a time (a
  `tf.while_loop` with `parallel_iterations=1`), so a long request needs memory for its samples
  and one chunk's spectrograms and activations, not for all its segments at once; evaluation
  runs 64 segments at a time too.
"""

import json

import tensorflow as tf

from mmtl_tf import export_format, features, run_dir as run_dir_lib

CHUNK_SEGMENTS = export_format.CHUNK_SEGMENTS  # segments per network call in the signatures


def backing_variables(model) -> list:
    """The `tf.Variable`s behind a Keras model's weights, in `model.weights` order.

    Raises:
      TypeError: a weight does not wrap a `tf.Variable` (not the TensorFlow backend).
    """
    found = []
    for weight in model.weights:
        value = weight.value
        if not isinstance(value, tf.Variable):
            raise TypeError(f"weight {weight.path} of {model.name} holds a {type(value).__name__}, "
                            f"not a tf.Variable: export needs KERAS_BACKEND=tensorflow")
        found.append(value)
    return found


class ServingModule(tf.Module):
    """The trained networks' variables, the run's metadata and the three signatures.

    Attributes:
      network_variables: dict network name -> list of its weights' `tf.Variable`s (saved).
      class_names: string variable [classes].
      corpus, feature_config_json, experiment_json: scalar string variables.
      metadata_file, flags_file: `tf.saved_model.Asset`s (`flags_file` only when given).
      serve_waveform, serve_spectrogram, serve_metadata: the `tf.function`s behind the
        signatures.
    """

    def __init__(self, algorithm, record: dict, metadata: dict, metadata_path: str,
                 flags_path: str = None, chunk_segments: int = CHUNK_SEGMENTS):
        super().__init__(name="mmtl_serving")
        if isinstance(chunk_segments, bool) or not isinstance(chunk_segments, int) \
                or chunk_segments < 1:
            raise ValueError(f"chunk_segments must be a positive integer, got {chunk_segments!r}")
        experiment = run_dir_lib.experiment_from_record(record)
        self._algorithm = algorithm
        self._chunk_segments = chunk_segments
        self._num_classes = len(record["class_names"])
        # A JSON string: a dict attribute would be wrapped (and tracked) by tf.Module.
        self._metadata_json = json.dumps(metadata)
        self._feature_config = experiment.features
        # Not the Keras models themselves: see the module docstring.
        self.network_variables = {name: backing_variables(model)
                                  for name, model in algorithm.networks().items()}
        self.class_names = tf.Variable(list(record["class_names"]), trainable=False,
                                       name="class_names")
        self.corpus = tf.Variable(record["corpus"], trainable=False, name="corpus")
        self.feature_config_json = tf.Variable(
            json.dumps(experiment.features.to_dict(), sort_keys=True), trainable=False,
            name="feature_config_json")
        self.experiment_json = tf.Variable(
            json.dumps(record["experiment"], sort_keys=True), trainable=False,
            name="experiment_json")
        self.metadata_file = tf.saved_model.Asset(metadata_path)
        if flags_path:
            self.flags_file = tf.saved_model.Asset(flags_path)
        frames, bins = experiment.features.max_frames, experiment.features.num_bins
        # Plain graph code: no AutoGraph conversion to pay.
        self.serve_waveform = tf.function(self._serve_waveform, autograph=False, input_signature=[
            tf.TensorSpec([None, None], tf.float32, name="waveform"),
            tf.TensorSpec([None], tf.int32, name="num_samples")])
        spectrogram = tf.TensorSpec([None, frames, bins], tf.float32, name="spectrogram")
        self.serve_spectrogram = tf.function(self._serve_spectrogram, autograph=False,
                                             input_signature=[spectrogram])
        self.serve_metadata = tf.function(self._serve_metadata, autograph=False,
                                          input_signature=[])

    def _name_captured_variables(self, extra=()):
        """Captures the variables a signature reads under their own names, before any read.

        TensorFlow names every variable handle a function captures `resource` (the input name
        of the op reading it), and saving then renames them all with a log line per signature
        ("contains input name(s) resource with unsupported characters which will be
        renamed"). Captured first under unique names (`meta_w000`... for a network's weights;
        seed-generator states are left out: inference does not read them, and they are not
        saved), the handles keep readable names and nothing is logged.

        Args:
          extra: (name, tf.Variable) pairs of module variables the signature also reads.
        """
        if tf.executing_eagerly():  # tf.config.run_functions_eagerly: no graph to name in
            return
        graph = tf.compat.v1.get_default_graph()
        named = [(f"{network}_w{index:03d}", variable)
                 for network, variables in self.network_variables.items()
                 for index, variable in enumerate(variables)]
        for name, variable in named + list(extra):
            graph.capture(variable.handle, name=name)

    def _segment_probabilities(self, spectrogram):
        """Softmax of the emotion logits, float32 [segments, classes], in one network call."""
        algorithm = self._algorithm
        logits = algorithm.emotion_logits(algorithm.meta_weights(), algorithm.head_weights(),
                                          spectrogram)
        return tf.nn.softmax(logits, axis=-1)

    def _over_chunks(self, total, probabilities_of):
        """Runs `probabilities_of(start, stop)` over segments [0, total) in chunks, one at a time.

        Returns:
          float32 [total, classes], the chunks' results concatenated in order.
        """
        chunk = self._chunk_segments

        def body(start, outputs):
            part = probabilities_of(start, tf.minimum(start + chunk, total))
            return start + chunk, outputs.write(start // chunk, part)

        outputs = tf.TensorArray(tf.float32, size=(total + chunk - 1) // chunk,
                                 element_shape=[None, self._num_classes], infer_shape=False)
        # One chunk at a time: parallel iterations would hold several chunks' activations.
        _, outputs = tf.while_loop(lambda start, _: start < total, body,
                                   (tf.constant(0), outputs), parallel_iterations=1)
        return tf.ensure_shape(outputs.concat(), [None, self._num_classes])

    def chunked_probabilities(self, spectrogram):
        """`_segment_probabilities` over `chunk_segments` segments at a time.

        Args:
          spectrogram: float32 [segments, max_frames, num_bins].

        Returns:
          float32 [segments, classes], the values of one call over all segments.
        """
        return self._over_chunks(tf.shape(spectrogram)[0], lambda start, stop:
                                 self._segment_probabilities(spectrogram[start:stop]))

    def waveform_probabilities(self, waveform, num_samples):
        """Per-segment posteriors of zero-padded utterances, features and network by chunk.

        The utterances are cut into segments first (`features.split_segments`); each chunk of
        segments then gets its features (`features.concatenated_features`, every segment as an
        utterance of its own: the same frames and per-segment normalisation as
        `features.waveform_features`) and its network call.

        Returns:
          (probabilities float32 [segments, classes], utterance_index int32 [segments]).
        """
        cfg = self._feature_config
        segments, lengths, utterance_index = features.split_segments(
            waveform, num_samples, cfg.segment_samples)

        def probabilities_of(start, stop):
            part_lengths = lengths[start:stop]
            samples = tf.RaggedTensor.from_tensor(segments[start:stop], lengths=part_lengths)
            spectrogram = features.concatenated_features(samples.flat_values, part_lengths,
                                                         cfg)["spectrogram"]
            return self._segment_probabilities(spectrogram)

        return self._over_chunks(tf.shape(segments)[0], probabilities_of), utterance_index

    def _serve_spectrogram(self, spectrogram):
        self._name_captured_variables()
        return {"probabilities": self.chunked_probabilities(spectrogram)}

    def _serve_metadata(self):
        metadata = json.loads(self._metadata_json)
        return {"sample_rate_hz": tf.constant(metadata["sample_rate_hz"], tf.int32),
                "class_names": tf.constant(metadata["class_names"], tf.string),
                "corpus": tf.constant(metadata["corpus"], tf.string),
                "segment_seconds": tf.constant(metadata["segment_seconds"], tf.float32),
                "min_clip_seconds": tf.constant(metadata["min_clip_seconds"], tf.float32),
                "feature_config_json": tf.constant(
                    json.dumps(metadata["feature_config"], sort_keys=True), tf.string)}

    def _checked_lengths(self, waveform, num_samples):
        """`num_samples` clipped to the row width, once every row holds one analysis window.

        Raises (when run):
          tf.errors.InvalidArgumentError: naming num_samples and the minimum, when a row has
            fewer valid samples than one window, or num_samples is not one length per row.
        """
        cfg = self._feature_config
        batch, width = tf.shape(waveform)[0], tf.shape(waveform)[1]
        same_rows = tf.debugging.assert_equal(
            tf.shape(num_samples)[0], batch,
            message="num_samples must hold one length per waveform row")
        # A length beyond the padded row (a client bug) is clipped rather than read out of range.
        clipped = tf.clip_by_value(num_samples, 0, width)
        long_enough = tf.debugging.assert_greater_equal(
            clipped, tf.constant(cfg.window_samples, tf.int32),
            message=(f"num_samples (the valid samples of each waveform row, at most its width) "
                     f"must be >= {cfg.window_samples}, one {cfg.window_ms:g} ms analysis window "
                     f"at {cfg.sample_rate} Hz; send clips of at least "
                     f"{export_format.min_clip_seconds(cfg):g} s for a meaningful prediction"))
        # Explicit: the assertions must fail before any feature op reads the rows.
        with tf.control_dependencies([same_rows, long_enough]):
            return tf.identity(clipped)

    def _serve_waveform(self, waveform, num_samples):
        self._name_captured_variables(extra=[("class_names", self.class_names)])
        num_samples = self._checked_lengths(waveform, num_samples)
        segment_probabilities, utterance_index = self.waveform_probabilities(waveform, num_samples)
        probabilities = tf.math.unsorted_segment_mean(
            segment_probabilities, utterance_index, num_segments=tf.shape(waveform)[0])
        class_index = tf.argmax(probabilities, axis=-1, output_type=tf.int64)
        return {"probabilities": probabilities, "class_index": class_index,
                "class_name": tf.gather(self.class_names, class_index)}

    def signatures(self) -> dict:
        """The concrete functions to save, keyed by signature name."""
        return {"serving_default": self.serve_waveform.get_concrete_function(),
                "spectrogram": self.serve_spectrogram.get_concrete_function(),
                "metadata": self.serve_metadata.get_concrete_function()}

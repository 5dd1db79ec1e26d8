"""Keras functional networks: the meta learner and transfer learner of Table 1, and the baselines.

Meta learner (Table 1, theta): three Conv2D + 2x2 max-pool blocks over the [time, frequency]
spectrogram, the pooled feature maps read as a time sequence (channels x frequency per step, as
the authors' code does), one BiLSTM layer whose outputs are averaged over time (the authors'
`rnn2dnn='Avg'`), FC_1 with ReLU, and FC_2 giving 4 logits shared by the V/A/D auxiliary tasks
(each is binned into 4 classes). Transfer learner (phi): FC_3 from those 4 outputs to the emotion
classes. BUILD.md lists every choice Table 1 leaves open.

Baselines (paper Table 2): `cnn_lstm` is the same network with an emotion head only;
`mtl` shares the CNN blocks and gives each task (every auxiliary task and emotion) its own
BiLSTM-FC-FC head.

All builders take a `ModelConfig` and return functional models with named inputs, layers and
outputs; training code calls them statelessly with weights held as tensors.
"""

import keras

from mmtl_tf import config as config_lib
from mmtl_tf.labels import NUM_VAD_BINS


def _cnn_blocks(spectrogram, model_config: config_lib.ModelConfig, prefix: str):
    """Conv-ReLU-MaxPool blocks; returns a [batch, time', channels*freq'] sequence."""
    features = keras.layers.Reshape(
        (model_config.num_frames, model_config.num_bins, 1), name=f"{prefix}add_channel")(spectrogram)
    for index, (filters, kernel) in enumerate(
            zip(model_config.conv_filters, model_config.conv_kernels), start=1):
        features = keras.layers.Conv2D(filters, kernel, padding="same", activation="relu",
                                       name=f"{prefix}conv_{index}")(features)
        features = keras.layers.MaxPooling2D(2, strides=2, name=f"{prefix}max_pooling_{index}")(features)
    time_steps, frequencies, channels = features.shape[1:]
    # Each time step reads all channels at all remaining frequencies (authors' cnn2rnn='concat').
    return keras.layers.Reshape((time_steps, frequencies * channels), name=f"{prefix}to_sequence")(features)


def _recurrent_head(sequence, model_config: config_lib.ModelConfig, outputs: int, prefix: str,
                    output_name: str):
    """BiLSTM (outputs averaged over time) - FC_1 (ReLU) - FC_2 logits."""
    hidden = keras.layers.Bidirectional(
        keras.layers.LSTM(model_config.lstm_units, return_sequences=True, name=f"{prefix}lstm"),
        name=f"{prefix}bilstm")(sequence)
    hidden = keras.layers.GlobalAveragePooling1D(name=f"{prefix}average_over_time")(hidden)
    hidden = keras.layers.Dense(model_config.fc_units, activation="relu", name=f"{prefix}fc_1")(hidden)
    return keras.layers.Dense(outputs, name=output_name)(hidden)


def _spectrogram_input(model_config):
    return keras.Input((model_config.num_frames, model_config.num_bins), name="spectrogram")


def build_meta_learner(model_config: config_lib.ModelConfig, outputs: int = NUM_VAD_BINS,
                       name: str = "meta_learner") -> keras.Model:
    """The CNN-BiLSTM-FC meta learner of Table 1.

    Args:
      model_config: layer sizes (the `paper` preset is Table 1).
      outputs: FC_2 width: 4 V/A/D bins for MMTL, the emotion classes for the cnn_lstm baseline.
      name: model name.

    Returns:
      A model mapping `spectrogram` float32 [batch, num_frames, num_bins] to logits [batch, outputs].
    """
    spectrogram = _spectrogram_input(model_config)
    sequence = _cnn_blocks(spectrogram, model_config, prefix="")
    logits = _recurrent_head(sequence, model_config, outputs, prefix="", output_name="fc_2")
    return keras.Model(spectrogram, logits, name=name)


def build_transfer_learner(num_classes: int, inputs: int = NUM_VAD_BINS) -> keras.Model:
    """The transfer learner of Table 1: FC_3 from the meta learner's 4 outputs to the emotions.

    Returns:
      A model mapping `meta_output` float32 [batch, inputs] to emotion logits [batch, num_classes].
    """
    meta_output = keras.Input((inputs,), name="meta_output")
    logits = keras.layers.Dense(num_classes, name="fc_3")(meta_output)
    return keras.Model(meta_output, logits, name="transfer_learner")


def build_mtl_networks(model_config: config_lib.ModelConfig, num_classes: int, aux_tasks):
    """The CNN-LSTM+MTL baseline: a shared CNN and one BiLSTM-FC-FC head per task.

    Args:
      model_config: layer sizes.
      num_classes: emotion classes.
      aux_tasks: names of the auxiliary tasks trained jointly (e.g. ("valence", "arousal")).

    Returns:
      (shared_cnn, heads): `shared_cnn` maps `spectrogram` to a [batch, time', features] sequence;
      `heads` maps that sequence to a dict of logits keyed by "emotion" and each auxiliary task.
    """
    spectrogram = _spectrogram_input(model_config)
    shared_cnn = keras.Model(spectrogram, _cnn_blocks(spectrogram, model_config, prefix="shared_"),
                             name="shared_cnn")
    sequence = keras.Input(shared_cnn.output.shape[1:], name="cnn_sequence")
    outputs = {"emotion": _recurrent_head(sequence, model_config, num_classes, "emotion_", "emotion")}
    for task in aux_tasks:
        outputs[task] = _recurrent_head(sequence, model_config, NUM_VAD_BINS, f"{task}_", task)
    heads = keras.Model(sequence, outputs, name="task_heads")
    return shared_cnn, heads

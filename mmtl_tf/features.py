"""Segmenting and log-power spectrograms (paper section 3.1.1), in TensorFlow ops only.

This is the one feature implementation of the project: `mmtl_tf.prepare` calls it to write the
TFRecords, training reads what it wrote, and the SavedModel's `serving_default` signature runs
the very same function inside its graph. The steps:

1. An utterance of `n` samples becomes K = ceil(n / segment_samples) segments of equal length
   (within one sample): segment i covers samples [floor(i*n/K), floor((i+1)*n/K)).
2. Each segment is framed with a Hamming window (40 ms by default), hop 10 ms, DFT 800.
3. The 200 lowest bins (0-4 kHz) are kept as log power, log(|X|^2 + log_floor).
4. Each segment is normalised to zero mean and unit variance over its valid frames, then
   zero padded along time to `max_frames` (300) frames.

Segments shorter than one window have no frame; callers reject such audio before it gets here
(the reader and `predict` say which file), and the graph returns all-zero features for them.
"""

import tensorflow as tf

from mmtl_tf import config as config_lib
from mmtl_tf.labels import bin_vad_score  # noqa: F401 (re-exported)

_STD_FLOOR = 1e-5


def split_segments(waveforms, num_samples, segment_samples: int):
    """Splits a batch of zero-padded utterances into equal-length segments of at most `segment_samples`.

    Args:
      waveforms: float32 [batch, max_samples], each row zero padded after its audio.
      num_samples: int [batch], valid samples per row (>= 1).
      segment_samples: the maximum segment length (48000 = 3 s at 16 kHz).

    Returns:
      segments: float32 [total_segments, segment_samples], each zero padded after its audio.
      lengths: int32 [total_segments], valid samples of each segment.
      utterance_index: int32 [total_segments], the row of `waveforms` each segment came from,
        in order (segments of row 0 first).
    """
    waveforms = tf.convert_to_tensor(waveforms, tf.float32)
    n = tf.maximum(tf.cast(num_samples, tf.int64), 1)
    per_utterance = (n + segment_samples - 1) // segment_samples  # K_b = ceil(n_b / seg)
    utterance_index = tf.repeat(tf.range(tf.shape(n, out_type=tf.int64)[0]), per_utterance)
    first_of_utterance = tf.cumsum(per_utterance, exclusive=True)
    position = (tf.range(tf.reduce_sum(per_utterance), dtype=tf.int64)
                - tf.gather(first_of_utterance, utterance_index))
    n_seg = tf.gather(n, utterance_index)
    k_seg = tf.gather(per_utterance, utterance_index)
    starts = position * n_seg // k_seg
    lengths = (position + 1) * n_seg // k_seg - starts
    offsets = tf.range(segment_samples, dtype=tf.int64)[tf.newaxis, :]
    valid = offsets < lengths[:, tf.newaxis]
    columns = tf.where(valid, starts[:, tf.newaxis] + offsets, 0)
    rows = tf.broadcast_to(utterance_index[:, tf.newaxis], tf.shape(columns))
    gathered = tf.gather_nd(waveforms, tf.stack([rows, columns], axis=-1))
    segments = tf.where(valid, gathered, 0.0)
    return segments, tf.cast(lengths, tf.int32), tf.cast(utterance_index, tf.int32)


def log_spectrograms(segments, lengths, feature_config: config_lib.FeatureConfig):
    """Normalised log-power spectrograms of segments (steps 2-4 of the module docstring).

    Args:
      segments: float32 [num_segments, segment_samples], zero padded after `lengths`.
      lengths: int [num_segments], valid samples of each segment.
      feature_config: the analysis parameters.

    Returns:
      spectrograms: float32 [num_segments, max_frames, num_bins], row-major by time, zero
        after `num_frames`.
      num_frames: int32 [num_segments], frames computed from real audio (before padding).
    """
    cfg = feature_config
    segments = tf.convert_to_tensor(segments, tf.float32)
    window = tf.signal.hamming_window(cfg.window_samples, periodic=True, dtype=tf.float32)
    frames = tf.signal.frame(segments, cfg.window_samples, cfg.hop_samples)  # [S, F, win]
    spectrum = tf.signal.rfft(frames * window, fft_length=[cfg.fft_length])[..., :cfg.num_bins]
    power = tf.math.square(tf.math.real(spectrum)) + tf.math.square(tf.math.imag(spectrum))
    log_power = tf.math.log(power + cfg.log_floor)

    lengths = tf.cast(lengths, tf.int32)
    num_frames = tf.where(lengths >= cfg.window_samples,
                          1 + (lengths - cfg.window_samples) // cfg.hop_samples, 0)
    frame_mask = tf.sequence_mask(num_frames, tf.shape(log_power)[1], dtype=tf.float32)
    mask = frame_mask[:, :, tf.newaxis]
    count = tf.maximum(tf.cast(num_frames * cfg.num_bins, tf.float32), 1.0)[:, tf.newaxis, tf.newaxis]
    mean = tf.reduce_sum(log_power * mask, axis=[1, 2], keepdims=True) / count
    variance = tf.reduce_sum(tf.square(log_power - mean) * mask, axis=[1, 2], keepdims=True) / count
    normalised = (log_power - mean) / (tf.sqrt(variance) + _STD_FLOOR) * mask

    pad = cfg.max_frames - tf.shape(normalised)[1]
    padded = tf.pad(normalised, [[0, 0], [0, pad], [0, 0]])
    return tf.ensure_shape(padded, [None, cfg.max_frames, cfg.num_bins]), num_frames


def waveform_features(waveforms, num_samples, feature_config: config_lib.FeatureConfig):
    """The whole feature path, waveform to padded spectrogram segments.

    Args:
      waveforms: float32 [batch, max_samples] at `feature_config.sample_rate`, zero padded.
      num_samples: int [batch], valid samples per row.
      feature_config: the analysis parameters.

    Returns:
      A dict with `spectrogram` float32 [total_segments, max_frames, num_bins], `num_frames`
      int32 [total_segments], `utterance_index` int32 [total_segments] and `segment_index`
      int32 [total_segments] (position of the segment within its utterance).
    """
    segments, lengths, utterance_index = split_segments(
        waveforms, num_samples, feature_config.segment_samples)
    spectrogram, num_frames = log_spectrograms(segments, lengths, feature_config)
    first = tf.searchsorted(utterance_index, utterance_index, side="left")
    segment_index = tf.range(tf.shape(utterance_index)[0], dtype=tf.int32) - first
    return {"spectrogram": spectrogram, "num_frames": num_frames,
            "utterance_index": utterance_index, "segment_index": segment_index}

"""Segmenting and log-power spectrograms (paper section 3.1.1), in TensorFlow ops only.

This is the one feature implementation of the project: `mmtl_tf.prepare` calls it to write the
TFRecords, training reads what it wrote, and the SavedModel's `serving_default` signature runs
the very same function inside its graph. The steps:

1. An utterance of `n` samples becomes K = ceil(n / segment_samples) segments of equal length
   (within one sample): segment i covers samples [floor(i*n/K), floor((i+1)*n/K)).
2. Each segment is framed with a Hamming window (40 ms by default), hop 10 ms, DFT 800.
3. The 200 lowest bins (0-4 kHz) are kept as log power, log(|X|^2 + log_floor).
4. Each segment is normalised to zero mean and unit variance over its valid frames, then
   zero padded along time to `max_frames` (300) frames. A flat segment (digital silence: its log
   power varies by less than `_FLAT_STD`) is all zeros.

Segments shorter than one window have no frame; callers reject such audio before it gets here
(the reader and `predict` say which file), and the graph returns all-zero features for them.

Speed (BUILD.md, "Benchmarks"): segments are cut by copying slices of the utterances' samples
(a ragged tensor), frames are gathered in hop-sized blocks, and only frames over real audio are
transformed; padding frames come back as the zeros a mask would give. Several utterances per
call (`concatenated_features`) share each op's fixed cost. The values are bit-identical to
framing every padded segment and masking (the zeros over the padding are always +0.0).
"""

import functools
import math

import tensorflow as tf

from mmtl_tf import config as config_lib

_STD_FLOOR = 1e-5
# A segment whose log power varies less than this is flat (digital silence): normalising it would
# only magnify float32 rounding of its mean (to +-0.7 with the floor above), so it comes out all
# zeros, as the float64 reference and librosa baseline give it (their deviation is exactly 0).
# Real audio varies by units of log power, so no other segment comes near it.
_FLAT_STD = 1e-3


def segment_lengths(num_samples, segment_samples: int):
    """Lengths of the equal segments of each utterance (step 1 of the module docstring).

    Args:
      num_samples: int [batch], samples per utterance (>= 1).
      segment_samples: the maximum segment length.

    Returns:
      lengths: int64 [total_segments], valid samples of each segment; the segments of an
        utterance are consecutive and their lengths sum to its length.
      utterance_index: int64 [total_segments], the utterance each segment belongs to, in order.
    """
    n = tf.cast(num_samples, tf.int64)
    per_utterance = (n + segment_samples - 1) // segment_samples  # K_b = ceil(n_b / seg)
    utterance_index = tf.repeat(tf.range(tf.shape(n, out_type=tf.int64)[0]), per_utterance)
    first_of_utterance = tf.cumsum(per_utterance, exclusive=True)
    position = (tf.range(tf.reduce_sum(per_utterance), dtype=tf.int64)
                - tf.gather(first_of_utterance, utterance_index))
    n_seg = tf.gather(n, utterance_index)
    k_seg = tf.gather(per_utterance, utterance_index)
    # Segment i covers samples [floor(i*n/K), floor((i+1)*n/K)).
    lengths = (position + 1) * n_seg // k_seg - position * n_seg // k_seg
    return lengths, utterance_index


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
    samples, num_samples = _concatenate_rows(waveforms, num_samples)
    lengths, utterance_index = segment_lengths(num_samples, segment_samples)
    segments = tf.RaggedTensor.from_row_lengths(samples, lengths, validate=False).to_tensor(
        shape=[None, segment_samples])
    return segments, tf.cast(lengths, tf.int32), tf.cast(utterance_index, tf.int32)


def _concatenate_rows(waveforms, num_samples):
    """The valid samples of every row, one row after another, and the row lengths.

    A length is raised to 1 (one segment per row) but never beyond the row's width: the
    segments are cut from these samples without bounds checks, so a length past the row (a
    zero-width batch) would read out of range (a crash of the process, not an error).
    """
    waveforms = tf.convert_to_tensor(waveforms, tf.float32)
    width = tf.shape(waveforms, out_type=tf.int64)[1]
    n = tf.minimum(tf.maximum(tf.cast(num_samples, tf.int64), 1), width)
    return tf.RaggedTensor.from_tensor(waveforms, lengths=n).flat_values, n


def _real_frames(samples, lengths, feature_config: config_lib.FeatureConfig):
    """The analysis frames that lie inside each segment, gathered in blocks of shared samples.

    Args:
      samples: float32 [total_samples], the segments one after another.
      lengths: int64 [num_segments], samples of each segment.

    Returns:
      frames: float32 [total_frames, window_samples], segment after segment.
      num_frames: int32 [num_segments].
    """
    cfg = feature_config
    block = math.gcd(cfg.window_samples, cfg.hop_samples)
    blocks_per_segment = -(-cfg.segment_samples // block)
    segments = tf.RaggedTensor.from_row_lengths(samples, lengths, validate=False).to_tensor(
        shape=[None, blocks_per_segment * block])
    blocks = tf.reshape(segments, [-1, block])  # [num_segments * blocks_per_segment, block]
    lengths = tf.cast(lengths, tf.int32)
    num_frames = tf.where(lengths >= cfg.window_samples,
                          1 + (lengths - cfg.window_samples) // cfg.hop_samples, 0)
    frame_index = tf.ragged.range(num_frames, row_splits_dtype=tf.int32)  # [segments, (frames)]
    first_block = (frame_index.value_rowids() * blocks_per_segment
                   + frame_index.flat_values * (cfg.hop_samples // block))
    offsets = tf.range(cfg.window_samples // block, dtype=tf.int32)
    frames = tf.gather(blocks, first_block[:, tf.newaxis] + offsets[tf.newaxis, :])
    return tf.reshape(frames, [-1, cfg.window_samples]), num_frames


def concatenated_features(samples, num_samples, feature_config: config_lib.FeatureConfig):
    """The whole feature path for utterances given one after another (no padding).

    Args:
      samples: float32 [total_samples] at `feature_config.sample_rate`, the utterances
        concatenated.
      num_samples: int [batch], samples of each utterance (>= 1; they sum to total_samples).
      feature_config: the analysis parameters.

    Returns:
      The dict of `waveform_features`.
    """
    cfg = feature_config
    lengths, utterance_index = segment_lengths(num_samples, cfg.segment_samples)
    frames, num_frames = _real_frames(tf.convert_to_tensor(samples, tf.float32), lengths, cfg)
    window = tf.signal.hamming_window(cfg.window_samples, periodic=True, dtype=tf.float32)
    spectrum = tf.signal.rfft(frames * window, fft_length=[cfg.fft_length])[:, :cfg.num_bins]
    power = tf.math.square(tf.math.real(spectrum)) + tf.math.square(tf.math.imag(spectrum))
    log_power = tf.RaggedTensor.from_row_lengths(
        tf.math.log(power + cfg.log_floor), num_frames, validate=False).to_tensor(
            shape=[None, cfg.frames_for(cfg.segment_samples), cfg.num_bins])  # 0 over padding
    spectrogram = _normalise_and_pad(log_power, num_frames, cfg)
    utterance_index = tf.cast(utterance_index, tf.int32)
    first = tf.searchsorted(utterance_index, utterance_index, side="left")
    segment_index = tf.range(tf.shape(utterance_index)[0], dtype=tf.int32) - first
    return {"spectrogram": spectrogram, "num_frames": num_frames,
            "utterance_index": utterance_index, "segment_index": segment_index}


def _normalise_and_pad(log_power, num_frames, feature_config: config_lib.FeatureConfig):
    """Step 4: zero mean, unit variance over each segment's real frames, zero padded in time."""
    cfg = feature_config
    frame_mask = tf.sequence_mask(num_frames, tf.shape(log_power)[1], dtype=tf.float32)
    mask = frame_mask[:, :, tf.newaxis]
    count = tf.maximum(tf.cast(num_frames * cfg.num_bins, tf.float32), 1.0)[:, tf.newaxis, tf.newaxis]
    mean = tf.reduce_sum(log_power * mask, axis=[1, 2], keepdims=True) / count
    variance = tf.reduce_sum(tf.square(log_power - mean) * mask, axis=[1, 2], keepdims=True) / count
    std = tf.sqrt(variance)
    normalised = tf.where((mask > 0.0) & (std > _FLAT_STD), (log_power - mean) / (std + _STD_FLOOR),
                          0.0)  # +0.0 over the padding (a product with the mask could give -0.0)
    pad = cfg.max_frames - tf.shape(normalised)[1]
    padded = tf.pad(normalised, [[0, 0], [0, pad], [0, 0]])
    return tf.ensure_shape(padded, [None, cfg.max_frames, cfg.num_bins])


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
    samples, num_samples = _concatenate_rows(waveforms, num_samples)
    return concatenated_features(samples, num_samples, feature_config)


@functools.lru_cache(maxsize=8)
def shard_features(feature_config: config_lib.FeatureConfig):
    """`concatenated_features` as the shards store it (float16), traced once per feature config.

    Every preparation calls it (`preparation_stream.feature_stream`); tracing the whole feature
    graph anew would cost ~0.4 s of one core each time (measured).

    Returns:
      A tf.function (samples float32 [total], num_samples int64 [batch]) -> dict of
      `concatenated_features` with `spectrogram` cast to float16.
    """

    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32),
                                  tf.TensorSpec([None], tf.int64)], autograph=False)
    def float16_features(samples, num_samples):
        computed = concatenated_features(samples, num_samples, feature_config)
        # The shards store float16: cast here, in TensorFlow's threads, not on the Python thread
        # (numpy's conversion took ~1.3 ms a segment; the bits are the same, round to nearest).
        computed["spectrogram"] = tf.cast(computed["spectrogram"], tf.float16)
        return {name: computed[name] for name in ("spectrogram", "num_frames", "segment_index",
                                                   "utterance_index")}

    return float16_features

"""Framing variants of the feature graph, A/B (process CPU ms per call, medians, paper features,
one intra- and one inter-op thread, 4 utterances of 22.3 s per call, variants alternated), and
whether each gives the shipped function's spectrogram bit for bit.

  current   ragged samples -> [segments, 48000] -> hop-sized blocks gathered into frames
  scalar    every frame's samples gathered straight from the concatenated utterances
  slices    [segments, 48000] -> frames as four shifted block slices (tf.signal.frame's way),
            then the real frames kept by boolean_mask
  dense     the same shifted slices, every frame (padding too) transformed, then masked
  pad300    current framing; log powers laid straight into max_frames rows (no separate pad)
  flatnorm  current framing; each segment normalised over its real frames before the padding
            (per-segment sums in another order: the last bits may differ)

Usage (2026-12-02, sixteenth session; output ../2026-12-02-sixteenth-session/framing_variants.txt):
  TF_CPU_ALLOCATOR_USE_BFC=true python evidence/bench/scripts/framing_variants.py
"""
import math, time, numpy as np, tensorflow as tf
from feature_call_inputs import cfg, lens, num, samples  # threads set before TensorFlow starts
from mmtl_tf import features as F
block = math.gcd(cfg.window_samples, cfg.hop_samples)
bps = -(-cfg.segment_samples // block)
per_frame = cfg.window_samples // block
max_frames = cfg.frames_for(cfg.segment_samples)


def count_frames(lengths):
    l32 = tf.cast(lengths, tf.int32)
    return tf.where(l32 >= cfg.window_samples, 1 + (l32 - cfg.window_samples) // cfg.hop_samples, 0)


def frames_scalar(s, lengths):
    nf = count_frames(lengths)
    starts = tf.cast(tf.cumsum(lengths, exclusive=True), tf.int32)
    fi = tf.ragged.range(nf, row_splits_dtype=tf.int32)
    first = tf.gather(starts, fi.value_rowids()) + fi.flat_values * cfg.hop_samples
    idx = first[:, None] + tf.range(cfg.window_samples, dtype=tf.int32)[None, :]
    return tf.gather(s, idx), nf


def shifted(s, lengths):
    segments = tf.RaggedTensor.from_row_lengths(s, lengths, validate=False).to_tensor(shape=[None, bps * block])
    blocks = tf.reshape(segments, [-1, bps, block])
    step = cfg.hop_samples // block
    frames = tf.concat([blocks[:, k:k + step * (max_frames - 1) + 1:step] for k in range(per_frame)], axis=2)
    return frames  # [segments, max_frames, window]


def frames_slices(s, lengths):
    nf = count_frames(lengths)
    frames = shifted(s, lengths)
    return tf.boolean_mask(frames, tf.sequence_mask(nf, max_frames)), nf


def spectrogram_from_frames(frames, nf, dense=False):
    window = tf.signal.hamming_window(cfg.window_samples, periodic=True, dtype=tf.float32)
    spectrum = tf.signal.rfft(frames * window, fft_length=[cfg.fft_length])[..., :cfg.num_bins]
    power = tf.math.square(tf.math.real(spectrum)) + tf.math.square(tf.math.imag(spectrum))
    log_power = tf.math.log(power + cfg.log_floor)
    if dense:
        mask = tf.sequence_mask(nf, max_frames)[:, :, None]
        log_power = tf.where(mask, log_power, 0.0)
    else:
        log_power = tf.RaggedTensor.from_row_lengths(log_power, nf, validate=False).to_tensor(
            shape=[None, max_frames, cfg.num_bins])
    return tf.cast(F._normalise_and_pad(log_power, nf, cfg), tf.float16)


def spectrogram_pad300(frames, nf):
    window = tf.signal.hamming_window(cfg.window_samples, periodic=True, dtype=tf.float32)
    spectrum = tf.signal.rfft(frames * window, fft_length=[cfg.fft_length])[..., :cfg.num_bins]
    power = tf.math.square(tf.math.real(spectrum)) + tf.math.square(tf.math.imag(spectrum))
    log_power = tf.RaggedTensor.from_row_lengths(tf.math.log(power + cfg.log_floor), nf, validate=False).to_tensor(
        shape=[None, cfg.max_frames, cfg.num_bins])
    return tf.cast(F._normalise_and_pad(log_power, nf, cfg), tf.float16)


def spectrogram_flatnorm(frames, nf):
    window = tf.signal.hamming_window(cfg.window_samples, periodic=True, dtype=tf.float32)
    spectrum = tf.signal.rfft(frames * window, fft_length=[cfg.fft_length])[..., :cfg.num_bins]
    power = tf.math.square(tf.math.real(spectrum)) + tf.math.square(tf.math.imag(spectrum))
    log_power = tf.math.log(power + cfg.log_floor)
    rows = tf.RaggedTensor.from_row_lengths(tf.zeros_like(nf), nf, validate=False).value_rowids()
    segs = tf.shape(nf)[0]
    count = tf.maximum(tf.cast(nf * cfg.num_bins, tf.float32), 1.0)
    mean = tf.math.unsorted_segment_sum(tf.reduce_sum(log_power, 1), rows, segs) / count
    dev = log_power - tf.gather(mean, rows)[:, None]
    std = tf.sqrt(tf.math.unsorted_segment_sum(tf.reduce_sum(tf.square(dev), 1), rows, segs) / count)
    normalised = tf.where(tf.gather(std > F._FLAT_STD, rows)[:, None], dev / tf.gather(std + F._STD_FLOOR, rows)[:, None], 0.0)
    out = tf.RaggedTensor.from_row_lengths(normalised, nf, validate=False).to_tensor(shape=[None, cfg.max_frames, cfg.num_bins])
    return tf.cast(out, tf.float16)


def variant(name):
    def fn(s, n):
        lengths, _ = F.segment_lengths(n, cfg.segment_samples)
        if name == "current":
            frames, nf = F._real_frames(s, lengths, cfg)
        elif name == "scalar":
            frames, nf = frames_scalar(s, lengths)
        elif name in ("pad300", "flatnorm"):
            frames, nf = F._real_frames(s, lengths, cfg)
            return (spectrogram_pad300 if name == "pad300" else spectrogram_flatnorm)(frames, nf)
        elif name == "slices":
            frames, nf = frames_slices(s, lengths)
        else:
            return spectrogram_from_frames(shifted(s, lengths), count_frames(lengths), dense=True)
        return spectrogram_from_frames(frames, nf)
    return tf.function(fn)


shipped = F.shard_features(cfg)
fns = {"shipped": lambda s, n: shipped(s, n)["spectrogram"]}
fns.update({name: variant(name) for name in ("current", "scalar", "slices", "dense", "pad300", "flatnorm")})
reference = fns["shipped"](samples, num).numpy()
for name, fn in fns.items():
    out = fn(samples, num).numpy()
    differ = np.mean(out.view(np.uint16) != reference.view(np.uint16))
    print(f"{name:8s} bit-identical: {np.array_equal(out.view(np.uint16), reference.view(np.uint16))}"
          f" (float16 values differing {differ:.2e}, max |diff| {np.max(np.abs(out.astype(np.float32) - reference.astype(np.float32))):.2e})")
res = {name: [] for name in fns}
for r in range(40):
    for name, fn in fns.items():
        t = time.process_time()
        np.asarray(fn(samples, num))
        res[name].append(time.process_time() - t)
for name, v in res.items():
    print(f"{name:8s} {np.median(v)*1000:6.2f} ms CPU per call (q1 {np.percentile(v,25)*1000:.2f}, q3 {np.percentile(v,75)*1000:.2f})")

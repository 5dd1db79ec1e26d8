"""Where the feature graph's CPU goes (paper features, one intra- and one inter-op thread, 4
utterances of 22.3 s in all per call): the graph cut after each stage, and the framing stage
taken apart (process CPU ms per call, medians).

Usage (2026-12-02, fifteenth session; output ../2026-12-02-fifteenth-session/feature_stage_cost.txt;
with `framing`, only the framing stage's parts, in a process that runs nothing else:
feature_stage_cost_framing_alone.txt):
  TF_CPU_ALLOCATOR_USE_BFC=true python evidence/bench/scripts/feature_stage_cost.py [framing]
Seventeenth session (2026-12-02), the same command on the Intel Xeon kind: output in
../2026-12-02-seventeenth-session/threads_ab.txt.
"""
import math, time, numpy as np, tensorflow as tf
from feature_call_inputs import cfg, lens, num, samples  # threads set before TensorFlow starts
from mmtl_tf import features as F
def stages(samples, num_samples, upto):
    lengths, utterance_index = F.segment_lengths(num_samples, cfg.segment_samples)
    frames, num_frames = F._real_frames(samples, lengths, cfg)
    if upto == "frames": return tf.reduce_sum(frames)
    window = tf.signal.hamming_window(cfg.window_samples, periodic=True, dtype=tf.float32)
    spectrum = tf.signal.rfft(frames * window, fft_length=[cfg.fft_length])
    if upto == "rfft_full": return tf.reduce_sum(tf.math.real(spectrum[:, :1]))
    spectrum = spectrum[:, :cfg.num_bins]
    power = tf.math.square(tf.math.real(spectrum)) + tf.math.square(tf.math.imag(spectrum))
    if upto == "power": return tf.reduce_sum(power)
    log_power = tf.RaggedTensor.from_row_lengths(tf.math.log(power + cfg.log_floor), num_frames, validate=False).to_tensor(
        shape=[None, cfg.frames_for(cfg.segment_samples), cfg.num_bins])
    if upto == "log_to_tensor": return tf.reduce_sum(log_power)
    spec = F._normalise_and_pad(log_power, num_frames, cfg)
    if upto == "normalise": return tf.reduce_sum(spec)
    return tf.reduce_sum(tf.cast(tf.cast(spec, tf.float16), tf.float32))
import sys
if sys.argv[1:] != ["framing"]:
    full = F.shard_features(cfg)
    fns = {u: tf.function(lambda s, n, u=u: stages(s, n, u)) for u in ("frames", "rfft_full", "power", "log_to_tensor", "normalise", "cast")}
    fns["shard_features"] = lambda s, n: full(s, n)["spectrogram"]
    for name, fn in fns.items(): fn(samples, num)
    res = {name: [] for name in fns}
    for r in range(30):
        for name, fn in fns.items():
            t = time.process_time(); 
            out = fn(samples, num); np.asarray(out)
            res[name].append(time.process_time() - t)
    audio = sum(lens) / cfg.sample_rate
    for name, v in res.items():
        print(f"{name:16s} {np.median(v)*1000:7.1f} ms CPU per call ({audio:.1f} s audio)")
# The framing stage taken apart, its functions alone.
block = math.gcd(cfg.window_samples, cfg.hop_samples)
bps = -(-cfg.segment_samples // block)
def part(s, n, upto):
    lengths, ui = F.segment_lengths(n, cfg.segment_samples)
    if upto == "lengths": return tf.reduce_sum(lengths)
    segments = tf.RaggedTensor.from_row_lengths(s, lengths, validate=False).to_tensor(shape=[None, bps * block])
    if upto == "to_tensor": return tf.reduce_sum(segments[:, :1])
    blocks = tf.reshape(segments, [-1, block])
    l32 = tf.cast(lengths, tf.int32)
    nf = tf.where(l32 >= cfg.window_samples, 1 + (l32 - cfg.window_samples) // cfg.hop_samples, 0)
    fi = tf.ragged.range(nf, row_splits_dtype=tf.int32)
    first = fi.value_rowids() * bps + fi.flat_values * (cfg.hop_samples // block)
    offsets = tf.range(cfg.window_samples // block, dtype=tf.int32)
    idx = first[:, None] + offsets[None, :]
    if upto == "index": return tf.reduce_sum(idx)
    frames = tf.gather(blocks, idx)
    if upto == "gather": return tf.reduce_sum(frames[:, :1, :1])
    frames = tf.reshape(frames, [-1, cfg.window_samples])
    return tf.reduce_sum(frames)
fns = {u: tf.function(lambda s, n, u=u: part(s, n, u)) for u in ("lengths", "to_tensor", "index", "gather", "sum")}
for fn in fns.values(): fn(samples, num)
res = {k: [] for k in fns}
for r in range(30):
    for k, fn in fns.items():
        t = time.process_time(); np.asarray(fn(samples, num)); res[k].append(time.process_time() - t)
for k, v in res.items(): print(f"{k:10s} {np.median(v)*1000:6.2f} ms")

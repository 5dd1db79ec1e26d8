"""The TensorFlow feature path against an independent numpy/scipy computation (paper section 3.1.1).

Reference: scipy's Hamming window, numpy's rfft, log power, normalisation over the real frames,
zero padding, written here without touching `mmtl_tf.features`. On these harmonic test signals
the measured max abs error of the normalised spectrogram is 2.6e-4 to 5.3e-4 (in the quietest
bins, where float32 FFT rounding is amplified by the log; the reference is float64) and the mean
abs error is below 1e-5. The test allows a max of 2e-3 and a mean of 2e-5.
"""

import numpy as np
import pytest
import scipy.signal

from mmtl_tf import config, features, labels

CFG = config.FeatureConfig()


def _reference_segment(samples):
    window = scipy.signal.get_window("hamming", CFG.window_samples, fftbins=True)
    count = 1 + (len(samples) - CFG.window_samples) // CFG.hop_samples
    frames = np.stack([samples[i * CFG.hop_samples:i * CFG.hop_samples + CFG.window_samples]
                       for i in range(count)]).astype(np.float64) * window
    power = np.abs(np.fft.rfft(frames, n=CFG.fft_length))[:, :CFG.num_bins] ** 2
    log_power = np.log(power + CFG.log_floor)
    normalised = (log_power - log_power.mean()) / (log_power.std() + 1e-5)
    padded = np.zeros((CFG.max_frames, CFG.num_bins))
    padded[:count] = normalised
    return padded, count


def _speechlike(seconds, seed):
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * CFG.sample_rate)) / CFG.sample_rate
    pitch = 140 + 30 * np.sin(2 * np.pi * 3 * t)
    voiced = sum(np.sin(2 * np.pi * k * np.cumsum(pitch) / CFG.sample_rate) / k for k in range(1, 20))
    return (0.3 * voiced * (0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)) + 0.01 * rng.normal(size=t.size)).astype(np.float32)


@pytest.mark.parametrize("seconds", [2.5, 3.0, 7.3])
def test_spectrogram_matches_independent_numpy(seconds):
    waveform = _speechlike(seconds, seed=int(seconds * 10))
    out = features.waveform_features(waveform[np.newaxis], [len(waveform)], CFG)
    n = len(waveform)
    segments = int(np.ceil(n / CFG.segment_samples))
    assert out["spectrogram"].shape == (segments, 300, 200)
    assert list(out["segment_index"].numpy()) == list(range(segments))
    worst, mean_errors = 0.0, []
    for index in range(segments):
        start, end = index * n // segments, (index + 1) * n // segments
        expected, count = _reference_segment(waveform[start:end])
        assert out["num_frames"][index] == count
        error = np.abs(out["spectrogram"][index].numpy() - expected)
        worst = max(worst, float(error.max()))
        mean_errors.append(float(error[:count].mean()))
    assert worst < 2e-3, worst
    assert max(mean_errors) < 2e-5, mean_errors


def test_digital_silence_is_all_zeros_as_the_reference_gives_it_whatever_shares_the_batch():
    """A constant segment's deviations are (nearly) 0 in float64; normalising float32 rounding
    of its mean gave values up to 0.7 that depended on the batch (the audit's silent.wav)."""
    speech, silence = _speechlike(3.0, 5), np.zeros(2 * CFG.segment_samples, np.float32)
    expected, count = _reference_segment(silence[:CFG.segment_samples])
    assert count == 297 and np.abs(expected).max() < 1e-6
    for waveforms in ([silence], [speech, silence], [silence, speech, speech]):
        out = features.concatenated_features(np.concatenate(waveforms),
                                             [len(w) for w in waveforms], CFG)
        rows = [index for index, utterance in enumerate(out["utterance_index"].numpy())
                if waveforms[utterance] is silence]
        assert len(rows) == 2 and not out["spectrogram"].numpy()[rows].any()
    quiet = (1e-4 * np.random.default_rng(0).normal(size=CFG.segment_samples)).astype(np.float32)
    out = features.concatenated_features(quiet, [len(quiet)], CFG)["spectrogram"].numpy()[0]
    np.testing.assert_allclose(out, _reference_segment(quiet)[0], atol=2e-3)  # quiet, not flat
    assert np.abs(out[:297]).std() > 0.5


def test_three_second_segment_has_297_frames_and_200_bins_below_4khz():
    assert CFG.window_samples == 640 and CFG.hop_samples == 160
    assert CFG.frames_for(CFG.segment_samples) == 297
    assert CFG.num_bins * CFG.sample_rate / CFG.fft_length == 4000.0


def test_batched_utterances_match_one_at_a_time():
    first, second = _speechlike(4.0, 1), _speechlike(1.2, 2)
    batch = np.zeros((2, len(first)), np.float32)
    batch[0], batch[1, :len(second)] = first, second
    together = features.waveform_features(batch, [len(first), len(second)], CFG)
    alone = [features.waveform_features(w[np.newaxis], [len(w)], CFG)["spectrogram"].numpy()
             for w in (first, second)]
    np.testing.assert_allclose(together["spectrogram"].numpy(), np.concatenate(alone), atol=1e-5)
    assert list(together["utterance_index"].numpy()) == [0, 0, 1]


@pytest.mark.parametrize("score, expected", [(1.0, 0), (1.9999, 0), (2.0, 1), (2.5, 1), (3.0, 2),
                                             (3.6667, 2), (4.0, 3), (5.0, 3), (5.5, 3)])
def test_vad_bins_put_edges_in_the_upper_bin(score, expected):
    assert labels.bin_vad_score(score) == expected


@pytest.mark.parametrize("score", [0.0, 6.0, -1.0, float("nan")])
def test_vad_scores_outside_range_are_rejected(score):
    with pytest.raises(ValueError):
        labels.bin_vad_score(score)


def test_impossible_feature_settings_name_the_field():
    with pytest.raises(ValueError, match="window_ms"):
        config.FeatureConfig(window_ms=200.0)


# The feature path before it cut segments by ragged slices and skipped padding frames (commit
# c1417af): every sample gathered by index with gather_nd, every frame of the padded segment
# transformed, then masked. The faster path must give the same values, bit for bit; the only
# byte difference in the shards is the sign of zeros over the padding (the old product with the
# mask left -0.0 where the masked value was negative; now always +0.0).
def _gather_nd_features(waveforms, num_samples, cfg):
    import tensorflow as tf

    waveforms = tf.convert_to_tensor(waveforms, tf.float32)
    n = tf.maximum(tf.cast(num_samples, tf.int64), 1)
    per_utterance = (n + cfg.segment_samples - 1) // cfg.segment_samples
    utterance_index = tf.repeat(tf.range(tf.shape(n, out_type=tf.int64)[0]), per_utterance)
    first_of_utterance = tf.cumsum(per_utterance, exclusive=True)
    position = (tf.range(tf.reduce_sum(per_utterance), dtype=tf.int64)
                - tf.gather(first_of_utterance, utterance_index))
    n_seg, k_seg = tf.gather(n, utterance_index), tf.gather(per_utterance, utterance_index)
    starts = position * n_seg // k_seg
    lengths = (position + 1) * n_seg // k_seg - starts
    offsets = tf.range(cfg.segment_samples, dtype=tf.int64)[tf.newaxis, :]
    valid = offsets < lengths[:, tf.newaxis]
    columns = tf.where(valid, starts[:, tf.newaxis] + offsets, 0)
    rows = tf.broadcast_to(utterance_index[:, tf.newaxis], tf.shape(columns))
    segments = tf.where(valid, tf.gather_nd(waveforms, tf.stack([rows, columns], axis=-1)), 0.0)
    window = tf.signal.hamming_window(cfg.window_samples, periodic=True, dtype=tf.float32)
    frames = tf.signal.frame(segments, cfg.window_samples, cfg.hop_samples)
    spectrum = tf.signal.rfft(frames * window, fft_length=[cfg.fft_length])[..., :cfg.num_bins]
    power = tf.math.square(tf.math.real(spectrum)) + tf.math.square(tf.math.imag(spectrum))
    log_power = tf.math.log(power + cfg.log_floor)
    lengths = tf.cast(lengths, tf.int32)
    num_frames = tf.where(lengths >= cfg.window_samples,
                          1 + (lengths - cfg.window_samples) // cfg.hop_samples, 0)
    mask = tf.sequence_mask(num_frames, tf.shape(log_power)[1], dtype=tf.float32)[:, :, None]
    count = tf.maximum(tf.cast(num_frames * cfg.num_bins, tf.float32), 1.0)[:, None, None]
    mean = tf.reduce_sum(log_power * mask, axis=[1, 2], keepdims=True) / count
    variance = tf.reduce_sum(tf.square(log_power - mean) * mask, axis=[1, 2], keepdims=True) / count
    normalised = (log_power - mean) / (tf.sqrt(variance) + 1e-5) * mask
    padded = tf.pad(normalised, [[0, 0], [0, cfg.max_frames - tf.shape(normalised)[1]], [0, 0]])
    return padded.numpy(), num_frames.numpy(), tf.cast(utterance_index, tf.int32).numpy()


@pytest.mark.parametrize("config_overrides", [{}, {"window_ms": 25.0}])
def test_fast_path_is_bit_identical_to_the_gather_nd_path(config_overrides):
    cfg = config.FeatureConfig(**config_overrides)
    lengths = [cfg.window_samples, 16000, 47999, 48000, 48001, 100000, 7 * 16000 + 3]
    batch = np.zeros((len(lengths), max(lengths)), np.float32)
    for row, length in enumerate(lengths):
        batch[row, :length] = _speechlike(length / cfg.sample_rate, row)[:length]
    fast = features.waveform_features(batch, lengths, cfg)
    spectrogram, num_frames, utterance_index = _gather_nd_features(batch, lengths, cfg)
    np.testing.assert_array_equal(fast["spectrogram"].numpy(), spectrogram)
    np.testing.assert_array_equal(fast["num_frames"].numpy(), num_frames)
    np.testing.assert_array_equal(fast["utterance_index"].numpy(), utterance_index)
    # Shards store float16: equal values give equal bytes once the old -0.0 are made +0.0.
    assert (fast["spectrogram"].numpy().astype("<f2").tobytes()
            == (spectrogram + np.float32(0.0)).astype("<f2").tobytes())


def test_concatenated_utterances_give_the_padded_batch_features():
    lengths = [20000, 50000, 3000]
    waveforms = [_speechlike(n / CFG.sample_rate, n)[:n] for n in lengths]
    batch = np.zeros((3, max(lengths)), np.float32)
    for row, waveform in enumerate(waveforms):
        batch[row, :len(waveform)] = waveform
    padded = features.waveform_features(batch, lengths, CFG)
    concatenated = features.concatenated_features(np.concatenate(waveforms), lengths, CFG)
    for name in ("spectrogram", "num_frames", "utterance_index", "segment_index"):
        np.testing.assert_array_equal(padded[name].numpy(), concatenated[name].numpy())


def _wav_utterances(folder, seconds):
    """Utterances u0, u1, ... of speech-like wavs of these lengths in `folder`, and their lengths
    (samples) as `preparation_stream.expected_samples` gives them."""
    from mmtl_tf import audio, corpora, preparation_stream

    utterances, lengths = [], {}
    for index, length in enumerate(seconds):
        path = str(folder / f"u{index}.wav")
        audio.write_wav(path, _speechlike(length, index), CFG.sample_rate)
        utterance = corpora.Utterance(f"u{index}", path, "1F", "1", 0)
        utterances.append(utterance)
        lengths[utterance.utterance_id] = preparation_stream.expected_samples(utterance, CFG)
    return utterances, lengths


def test_preparation_stream_gives_the_same_features_however_many_utterances_per_call(tmp_path):
    """And however many threads compute them: the order is the listing's. The spectrograms
    agree to the last float16 step (a segment's sums are split by the size of its call)."""
    from mmtl_tf import preparation_stream

    utterances, lengths = _wav_utterances(tmp_path, [0.5, 3.0, 3.2, 7.0, 1.1])
    streams = [list(preparation_stream.feature_stream(utterances, lengths, CFG, per_call, workers))
               for per_call, workers in ((1, 1), (2, 3), (8, None))]
    for per_call_results in streams[1:]:
        assert [u for u, _ in per_call_results] == utterances
        for (_, alone), (_, batched) in zip(streams[0], per_call_results):
            assert sorted(batched) == ["num_frames", "segment_index", "spectrogram"]
            for name in ("num_frames", "segment_index"):
                np.testing.assert_array_equal(alone[name], batched[name])
            np.testing.assert_allclose(alone["spectrogram"].astype(np.float32),
                                       batched["spectrogram"].astype(np.float32),
                                       rtol=2.0 ** -10, atol=2.0 ** -14)
    assert [len(computed["segment_index"]) for _, computed in streams[0]] == [1, 1, 2, 3, 1]


def test_feature_calls_start_where_asked_and_preparation_starts_one_per_unit(tmp_path,
                                                                            monkeypatch):
    """A resumed preparation starts at a unit; with a call starting at every unit it makes
    the calls (so the bytes) of an uninterrupted run."""
    from mmtl_tf import corpora, features as features_lib, preparation, preparation_stream

    assert preparation_stream.call_ranges(7, 4) == [(0, 4), (4, 7)]
    assert preparation_stream.call_ranges(7, 4, [3, 0, 7]) == [(0, 3), (3, 7)]
    assert preparation_stream.call_ranges(9, 2, [5]) == [(0, 2), (2, 4), (4, 5), (5, 7), (7, 9)]
    utterances, lengths = _wav_utterances(tmp_path, [3.0, 1.0, 6.0, 2.0, 2.5, 7.0, 1.5])
    speakers = ["1F", "1F", "1M", "2F", "2F", "2M", "3F"]  # segments 2, 2, 2, 3, 1
    listing = corpora.CorpusListing("calls", ("neu", "hap"), [
        corpora.Utterance(u.utterance_id, u.path, speaker, speaker[0], 0)
        for u, speaker in zip(utterances, speakers)])
    calls = []
    real = features_lib.shard_features

    def recording(feature_config):
        compute = real(feature_config)

        def call(samples, num_samples):
            calls.append(tuple(num_samples.numpy()))  # the lengths name the utterances
            return compute(samples, num_samples)
        return call

    monkeypatch.setattr(features_lib, "shard_features", recording)
    preparation.prepare_corpus(listing, CFG, str(tmp_path / "out"), segments_per_shard=4,
                               show_progress=False)
    # Units [1F 1M] [2F] [2M 3F] hold utterances 0-2, 3-4 and 5-6: a call each (4 a call would
    # be 0-3 and 4-6). The pool's threads make the calls in any order.
    samples = [lengths[u.utterance_id] for u in utterances]
    assert sorted(calls) == sorted([tuple(samples[0:3]), tuple(samples[3:5]), tuple(samples[5:7])])


def test_preparation_stream_yields_every_utterance_before_a_bad_wav_then_names_it(tmp_path):
    """A wav that fails while threads compute ahead stops the stream at that utterance, in order;
    a consumer that stops early leaves no thread computing."""
    import threading

    from mmtl_tf import audio, preparation_stream

    utterances, lengths = _wav_utterances(tmp_path, [1.0] * 9)
    (tmp_path / "u6.wav").write_bytes(b"RIFF")  # damaged after the header check
    seen = []
    with pytest.raises(audio.AudioError, match=r"u6\.wav"):
        for utterance, _ in preparation_stream.feature_stream(utterances, lengths, CFG, 2, 3):
            seen.append(utterance.utterance_id)
    assert seen == [f"u{index}" for index in range(6)]
    stream = preparation_stream.feature_stream(utterances[:6], lengths, CFG, 1, 2)
    assert next(stream)[0] is utterances[0]
    stream.close()
    assert not [thread for thread in threading.enumerate()
                if thread.name.startswith("mmtl-features")]


def test_preparation_stream_sizes_its_threads_by_the_cores_this_process_may_use(tmp_path):
    """A process limited to one core (taskset, a container's CPU set) gets 2 threads, not one
    more than every core of the machine."""
    import os
    import threading

    from mmtl_tf import preparation_stream

    allowed = os.sched_getaffinity(0)
    utterances, lengths = _wav_utterances(tmp_path, [0.5] * 12)
    assert preparation_stream.usable_cores() == len(allowed)
    os.sched_setaffinity(0, {min(allowed)})
    try:
        assert preparation_stream.usable_cores() == 1
        stream = preparation_stream.feature_stream(utterances, lengths, CFG, 1)
        next(stream)
        names = {thread.name for thread in threading.enumerate()
                 if thread.name.startswith("mmtl-features")}
        stream.close()
    finally:
        os.sched_setaffinity(0, allowed)
    assert len(names) == 2

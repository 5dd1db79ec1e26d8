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

from mmtl_tf import config, features

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
    assert features.bin_vad_score(score) == expected


@pytest.mark.parametrize("score", [0.0, 6.0, -1.0, float("nan")])
def test_vad_scores_outside_range_are_rejected(score):
    with pytest.raises(ValueError):
        features.bin_vad_score(score)


def test_impossible_feature_settings_name_the_field():
    with pytest.raises(ValueError, match="window_ms"):
        config.FeatureConfig(window_ms=200.0)

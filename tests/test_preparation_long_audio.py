"""Long recordings in preparation (mmtl_tf.preparation_stream): no feature call computes more than
`segments_per_call` segments, an utterance longer than that is cut at its own segment boundaries,
and the features are those of computing it whole. (Four 10-minute wavs in one call peaked at
3.26 GB resident; with calls of 64 segments, 1.23 GB: BUILD.md.)"""

import numpy as np

from mmtl_tf import audio
from mmtl_tf import config as config_lib
from mmtl_tf import corpora
from mmtl_tf import features
from mmtl_tf import preparation_stream

CFG = config_lib.FeatureConfig()


def _utterances(folder, seconds):
    """Utterances of noisy tones of these lengths, and their lengths in samples."""
    rng = np.random.default_rng(0)
    utterances, lengths = [], {}
    for index, length in enumerate(seconds):
        samples = int(length * CFG.sample_rate)
        tone = 0.3 * np.sin(2 * np.pi * (120 + 30 * index) * np.arange(samples) / CFG.sample_rate)
        path = str(folder / f"u{index}.wav")
        audio.write_wav(path, tone + 0.05 * rng.standard_normal(samples), CFG.sample_rate)
        utterances.append(corpora.Utterance(f"u{index}", path, "1F", "1", 0))
        lengths[f"u{index}"] = samples
    return utterances, lengths


def test_no_call_computes_more_segments_than_allowed_and_features_match_whole(tmp_path,
                                                                              monkeypatch):
    utterances, lengths = _utterances(tmp_path, [10.0, 2.0, 1.0, 7.0])  # 4, 1, 1, 3 segments
    whole = dict(preparation_stream.feature_stream(utterances, lengths, CFG, workers=1))
    calls = []
    shard_features = features.shard_features

    def recording(feature_config):
        compute = shard_features(feature_config)

        def call(samples, num_samples):
            calls.append(int(np.sum(-(-num_samples.numpy() // feature_config.segment_samples))))
            return compute(samples, num_samples)
        return call

    monkeypatch.setattr(features, "shard_features", recording)
    cut = dict(preparation_stream.feature_stream(utterances, lengths, CFG, workers=1,
                                                 segments_per_call=2))
    assert max(calls) <= 2 and sum(calls) == 9
    for utterance in utterances:
        expected, got = whole[utterance], cut[utterance]
        np.testing.assert_array_equal(got["num_frames"], expected["num_frames"])
        np.testing.assert_array_equal(got["segment_index"], np.arange(len(expected["num_frames"])))
        np.testing.assert_allclose(got["spectrogram"].astype(np.float32),
                                   expected["spectrogram"].astype(np.float32), atol=2e-3)


def test_call_pieces_cut_a_long_utterance_where_the_features_cut_it():
    waveforms = [np.arange(10, dtype=np.float32), np.arange(3, dtype=np.float32)]
    calls = preparation_stream._call_pieces(waveforms, segment_samples=3, segments_per_call=2)
    # 10 samples are 4 segments of 2 or 3 samples, [0, 2), [2, 5), [5, 7), [7, 10)
    assert [owners for owners, _ in calls] == [[0, 0], [0, 0], [1]]
    assert [[waveform[begin:end].tolist() for waveform, begin, end in cuts]
            for _, cuts in calls] == [[[0, 1], [2, 3, 4]], [[5, 6], [7, 8, 9]], [[0, 1, 2]]]
    lengths, _ = features.segment_lengths(np.array([10]), 3)
    assert lengths.numpy().tolist() == [2, 3, 2, 3]

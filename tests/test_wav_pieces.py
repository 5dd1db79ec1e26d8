"""Long wavs read piece by piece (mmtl_tf.wav_pieces): each piece is the whole-file waveform's
samples to the bit, at the feature rate or resampled from another, so preparation's features are
the same while its memory is bounded by a piece (BUILD.md "Preparing transactionally")."""

import struct

import numpy as np
import pytest

from mmtl_tf import audio
from mmtl_tf import config as config_lib
from mmtl_tf import corpora
from mmtl_tf import preparation_stream
from mmtl_tf import wav_pieces


def _write_float32(path, samples: np.ndarray, rate: int) -> None:
    """A 32-bit float wav (format tag 3) of float32 [frames, channels]."""
    data = np.asarray(samples, "<f4").tobytes()
    channels = samples.shape[1]
    header = struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + len(data), b"WAVE", b"fmt ", 16,
                         3, channels, rate, rate * channels * 4, channels * 4, 32, b"data",
                         len(data))
    with open(path, "wb") as handle:
        handle.write(header + data)


def _speech_like(seconds: float, rate: int, channels: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    time = np.arange(int(seconds * rate)) / rate
    tone = 0.3 * np.sin(2 * np.pi * 180 * time) * (1 + 0.5 * np.sin(2 * np.pi * 3 * time))
    return np.stack([tone + 0.05 * rng.standard_normal(time.shape) for _ in range(channels)],
                    axis=1).astype(np.float32)


def _segment_bounds(length: int, segment: int) -> list:
    count = -(-length // segment)
    return [index * length // count for index in range(count + 1)]


@pytest.mark.parametrize("rate, channels, encoding", [
    (16000, 1, "pcm16"), (16000, 2, "float32"), (48000, 2, "float32"), (44100, 1, "pcm16"),
    (8000, 2, "pcm16"), (22050, 1, "float32"), (96000, 1, "float32")])
def test_each_piece_is_the_whole_files_samples_to_the_bit(tmp_path, rate, channels, encoding):
    path = str(tmp_path / "long.wav")
    samples = _speech_like(7.3, rate, channels)
    if encoding == "pcm16":
        audio.write_wav(path, samples if channels > 1 else samples[:, 0], rate)
    else:
        _write_float32(path, samples, rate)
    whole = audio.read_wav(path, 16000)
    pieces = wav_pieces.WavPieces(path, 16000)
    assert len(pieces) == len(whole)
    bounds = _segment_bounds(len(whole), 4000)  # quarter-second pieces, as segments are cut
    read = [pieces.piece(begin, end) for begin, end in zip(bounds, bounds[1:])]
    for (begin, end), piece in zip(zip(bounds, bounds[1:]), read):
        assert piece.dtype == np.float32
        np.testing.assert_array_equal(piece, whole[begin:end])
    mean, silent = pieces.finish()
    assert not silent and mean == pytest.approx(float(np.mean(whole)), abs=1e-6)


def test_cancelling_channels_and_non_finite_samples_are_refused_over_the_pieces(tmp_path):
    inverted = _speech_like(2.0, 16000, 1)
    path = str(tmp_path / "cancel.wav")
    _write_float32(path, np.concatenate([inverted, -inverted], axis=1), 16000)
    pieces = wav_pieces.WavPieces(path, 16000)
    bounds = _segment_bounds(len(pieces), 8000)
    for begin, end in zip(bounds, bounds[1:]):
        pieces.piece(begin, end)  # checked over the whole file, after its last piece
    with pytest.raises(audio.AudioError, match="cancel out when mixed to mono"):
        pieces.finish()
    broken = _speech_like(2.0, 16000, 1)
    broken[20000] = np.nan
    _write_float32(path, broken, 16000)
    pieces = wav_pieces.WavPieces(path, 16000)
    pieces.piece(0, 16000)
    with pytest.raises(audio.AudioError, match="NaN or infinite samples"):
        pieces.piece(16000, 32000)


def test_a_long_wav_is_prepared_in_pieces_with_the_whole_files_features(tmp_path, monkeypatch):
    """Three minutes at 48 kHz stereo and 16 kHz mono, calls of 4 segments: the features are
    bit-identical to decoding each file whole, and neither long file is decoded whole."""
    config = config_lib.FeatureConfig(hop_ms=20, max_frames=150, num_bins=100)  # smoke's
    utterances, lengths = [], {}
    for index, (rate, channels) in enumerate([(48000, 2), (16000, 1), (16000, 1)]):
        path = str(tmp_path / f"u{index}.wav")
        seconds = 2.0 if index == 2 else 180.0  # a short one shares the calls
        _write_float32(path, _speech_like(seconds, rate, channels, seed=index), rate)
        utterances.append(corpora.Utterance(f"u{index}", path, "1F", "1", 0))
        lengths[f"u{index}"] = preparation_stream.expected_samples(utterances[-1], config)
    whole = dict(preparation_stream.feature_stream(utterances, lengths, config, workers=1,
                                                   segments_per_call=4, in_pieces=False))
    read_whole = []
    real_read_wav = audio.read_wav
    monkeypatch.setattr(audio, "read_wav",
                        lambda path, rate=16000: read_whole.append(path) or real_read_wav(path, rate))
    pieced = dict(preparation_stream.feature_stream(utterances, lengths, config, workers=1,
                                                    segments_per_call=4))
    assert read_whole == [utterances[2].path]  # only the short one is read whole
    for utterance in utterances:
        for name in ("spectrogram", "num_frames", "segment_index"):
            assert np.array_equal(pieced[utterance][name], whole[utterance][name]), name
    assert len(whole[utterances[0]]["num_frames"]) == 60

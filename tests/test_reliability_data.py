"""Reliability of the data layer: every bad input fails with a message naming where it is.

The catalogue of faults (corpus folders, EmoEvaluation lines, wav files, CSV manifests) and what
each must give: an error naming the folder, file:line, file, or row and column, with the offending
text; or, for audio that is merely in another rate or channel count, a silent conversion to
16 kHz mono. Odd wavs are written byte by byte with `struct`, so the tests do not depend on a
writer that would refuse to produce them.
"""

import collections
import os
import resource
import struct
import tracemalloc

import numpy as np
import pytest

from mmtl_tf import audio
from mmtl_tf import corpora
from mmtl_tf.corpora import csv_manifest
from mmtl_tf.corpora import iemocap

_PCM = 1
_IEEE_FLOAT = 3
_ALAW = 6
_MULAW = 7
_EXTENSIBLE = 0xFFFE
_HUGE = 0xFFFFFFF0  # a chunk size claiming ~4 GB
_MEMORY_BUDGET = 50 * 1024 * 1024


def _write_riff(path, data=b"", *, format_tag=_PCM, channels=1, sample_rate=16000, bits=16,
                data_size=None, fmt_size=None, fmt_extra=b"", chunks_before_data=b""):
    """Writes a RIFF/WAVE file by hand: header, fmt chunk, optional chunks, data chunk.

    `data_size` and `fmt_size` override the sizes the chunk headers claim (to write lying headers).
    Returns `path` as a string.
    """
    block_align = channels * bits // 8
    fmt_body = struct.pack("<HHIIHH", format_tag, channels, sample_rate,
                           sample_rate * block_align, block_align, bits) + fmt_extra
    body = (b"WAVE"
            + b"fmt " + struct.pack("<I", len(fmt_body) if fmt_size is None else fmt_size)
            + fmt_body + chunks_before_data
            + b"data" + struct.pack("<I", len(data) if data_size is None else data_size) + data)
    with open(path, "wb") as handle:
        handle.write(b"RIFF" + struct.pack("<I", len(body)) + body)
    return str(path)


def _extensible_fmt_extra(bits, sub_format):
    """The 24 bytes WAVE_FORMAT_EXTENSIBLE adds to the fmt chunk (cbSize first)."""
    guid_tail = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    return struct.pack("<HHIH", 22, bits, 0x4, sub_format) + guid_tail


def _pcm16(samples):
    """float [-1, 1] -> little-endian int16 bytes (interleaved when 2-D)."""
    return np.round(np.clip(samples, -1.0, 32767 / 32768) * 32768).astype("<i2").tobytes()


def _sine(frequency, sample_rate, num_frames, amplitude=0.5):
    return amplitude * np.sin(2 * np.pi * frequency * np.arange(num_frames) / sample_rate)


def _assert_bounded_memory(function, *args):
    """Runs `function(*args)`, expecting AudioError, with < 50 MB traced and resident growth."""
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kB
    tracemalloc.start()
    try:
        with pytest.raises(audio.AudioError) as error:
            function(*args)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss_before
    assert peak < _MEMORY_BUDGET, f"allocated {peak / 1e6:.0f} MB on a lying header"
    assert rss_growth < _MEMORY_BUDGET
    return str(error.value)


# ----------------------------------------------------------------------------------------------
# wav files: audio.inspect_wav / audio.read_wav
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("function", [audio.inspect_wav, audio.read_wav])
def test_missing_wav_error_names_the_file(tmp_path, function):
    path = str(tmp_path / "gone.wav")
    with pytest.raises(audio.AudioError, match="file not found") as error:
        function(path)
    assert path in str(error.value)


@pytest.mark.parametrize("function", [audio.inspect_wav, audio.read_wav])
def test_empty_wav_error_names_the_file(tmp_path, function):
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(audio.AudioError, match="empty") as error:
        function(str(path))
    assert str(path) in str(error.value)


@pytest.mark.parametrize("content", [
    np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes(),  # garbage
    b"RIFF",                                          # cut inside the header
    b"RIFF\x24\x00\x00\x00AVI LIST",                  # RIFF, but not WAVE
    b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff" * 200,  # an mp3 renamed .wav
    b"%PDF-1.4\n" * 20,
], ids=["random", "cut-header", "riff-not-wave", "mp3", "text"])
def test_not_a_wav_error_names_the_file(tmp_path, content):
    path = tmp_path / "corrupt.wav"
    path.write_bytes(content)
    for function in (audio.inspect_wav, audio.read_wav):
        with pytest.raises(audio.AudioError) as error:
            function(str(path))
        assert str(path) in str(error.value)


def test_wav_without_data_or_fmt_chunk_error_names_the_file(tmp_path):
    no_data = tmp_path / "no_data.wav"
    no_data.write_bytes(b"RIFF\x1c\x00\x00\x00WAVEfmt \x10\x00\x00\x00"
                        + struct.pack("<HHIIHH", 1, 1, 16000, 32000, 2, 16))
    with pytest.raises(audio.AudioError, match="no data chunk") as error:
        audio.read_wav(str(no_data))
    assert str(no_data) in str(error.value)
    no_fmt = tmp_path / "no_fmt.wav"
    no_fmt.write_bytes(b"RIFF\x10\x00\x00\x00WAVEdata\x04\x00\x00\x00\x00\x00\x00\x00")
    with pytest.raises(audio.AudioError, match="no fmt chunk") as error:
        audio.read_wav(str(no_fmt))
    assert str(no_fmt) in str(error.value)


@pytest.mark.parametrize("function", [audio.inspect_wav, audio.read_wav])
def test_data_chunk_claiming_4_gb_in_a_small_file_allocates_nothing_large(tmp_path, function):
    path = _write_riff(tmp_path / "liar.wav", _pcm16(_sine(440, 16000, 1600)), data_size=_HUGE)
    message = _assert_bounded_memory(function, path)
    assert path in message and str(_HUGE) in message and "truncated" in message


@pytest.mark.parametrize("function", [audio.inspect_wav, audio.read_wav])
def test_fmt_chunk_claiming_4_gb_allocates_nothing_large(tmp_path, function):
    path = _write_riff(tmp_path / "fmt_liar.wav", _pcm16(_sine(440, 16000, 1600)),
                       fmt_size=_HUGE)
    message = _assert_bounded_memory(function, path)
    assert path in message


def test_other_chunk_claiming_4_gb_allocates_nothing_large(tmp_path):
    path = _write_riff(tmp_path / "list_liar.wav", _pcm16(_sine(440, 16000, 1600)),
                       chunks_before_data=b"LIST" + struct.pack("<I", _HUGE) + b"INFO")
    assert path in _assert_bounded_memory(audio.read_wav, path)


def test_header_claiming_more_data_than_the_file_holds_names_file_and_sizes(tmp_path):
    data = _pcm16(_sine(440, 16000, 1000))
    path = _write_riff(tmp_path / "truncated.wav", data, data_size=2 * len(data))
    with pytest.raises(audio.AudioError) as error:
        audio.read_wav(path)
    message = str(error.value)
    assert path in message and str(2 * len(data)) in message and str(len(data)) in message


@pytest.mark.parametrize("format_tag, bits, fmt_extra, encoding", [
    (_PCM, 8, b"", "format tag 1, 8 bits"),
    (_PCM, 24, b"", "format tag 1, 24 bits"),
    (_PCM, 32, b"", "format tag 1, 32 bits"),
    (_ALAW, 8, b"", "format tag 6, 8 bits"),
    (_MULAW, 8, b"", "format tag 7, 8 bits"),
    (_IEEE_FLOAT, 64, b"", "format tag 3, 64 bits"),
    (_EXTENSIBLE, 24, _extensible_fmt_extra(24, _PCM), "format tag 1, 24 bits"),
], ids=["pcm8", "pcm24", "pcm32", "alaw", "mulaw", "float64", "extensible-pcm24"])
def test_unsupported_encoding_error_names_file_and_encoding(tmp_path, format_tag, bits,
                                                            fmt_extra, encoding):
    path = _write_riff(tmp_path / "odd.wav", bytes(bits // 8 * 800), format_tag=format_tag,
                       bits=bits, fmt_extra=fmt_extra)
    for function in (audio.inspect_wav, audio.read_wav):
        with pytest.raises(audio.AudioError, match="unsupported encoding") as error:
            function(path)
        assert path in str(error.value) and encoding in str(error.value)


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_float32_wav_with_non_finite_sample_error_names_file_and_nan(tmp_path, bad_value):
    samples = _sine(440, 16000, 1600).astype("<f4")
    samples[777] = bad_value
    path = _write_riff(tmp_path / "nan.wav", samples.tobytes(), format_tag=_IEEE_FLOAT, bits=32)
    with pytest.raises(audio.AudioError, match="NaN") as error:
        audio.read_wav(path)
    assert path in str(error.value)


def test_float32_wav_without_nan_reads_exactly(tmp_path):
    samples = _sine(440, 16000, 1600).astype("<f4")
    path = _write_riff(tmp_path / "float.wav", samples.tobytes(), format_tag=_IEEE_FLOAT, bits=32)
    assert audio.inspect_wav(path)["format"] == "float32"
    np.testing.assert_array_equal(audio.read_wav(path), samples)


def test_extensible_header_16_bit_pcm_reads_like_plain_pcm(tmp_path):
    samples = _sine(440, 16000, 1600)
    plain = _write_riff(tmp_path / "plain.wav", _pcm16(samples))
    extensible = _write_riff(tmp_path / "extensible.wav", _pcm16(samples),
                             format_tag=_EXTENSIBLE, fmt_extra=_extensible_fmt_extra(16, _PCM))
    np.testing.assert_array_equal(audio.read_wav(extensible), audio.read_wav(plain))


def test_odd_sized_data_chunk_and_extra_chunks_read_whole_frames(tmp_path):
    samples = _sine(440, 16000, 1001)
    path = _write_riff(tmp_path / "odd_size.wav", _pcm16(samples) + b"\x01",  # no pad byte
                       chunks_before_data=b"LIST\x04\x00\x00\x00INFO")
    waveform = audio.read_wav(path)
    assert len(waveform) == audio.inspect_wav(path)["num_frames"] == 1001
    np.testing.assert_allclose(waveform, samples, atol=1 / 32768)


def test_pcm16_samples_are_scaled_to_minus_one_one(tmp_path):
    path = _write_riff(tmp_path / "extremes.wav", struct.pack("<4h", -32768, 0, 16384, 32767))
    np.testing.assert_array_equal(audio.read_wav(path), [-1.0, 0.0, 0.5, 32767 / 32768])


# ----------------------------------------------------------------------------------------------
# other rates and channel counts: converted to 16 kHz mono, not an error
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sample_rate, channels", [(44100, 2), (8000, 1), (48000, 1),
                                                   (22050, 2), (16000, 2)])
def test_other_rates_and_channels_become_16k_mono_of_the_expected_length(tmp_path, sample_rate,
                                                                         channels):
    num_frames = int(0.7 * sample_rate) + 3
    samples = np.stack([_sine(300 + 200 * c, sample_rate, num_frames)
                        for c in range(channels)], axis=1)
    path = _write_riff(tmp_path / "in.wav", _pcm16(samples), channels=channels,
                       sample_rate=sample_rate)
    waveform = audio.read_wav(path, target_rate=16000)
    assert waveform.ndim == 1 and waveform.dtype == np.float32
    assert abs(len(waveform) - round(num_frames * 16000 / sample_rate)) <= 1
    assert np.all(np.isfinite(waveform)) and np.max(np.abs(waveform)) <= 1.0


def test_stereo_is_mixed_as_the_mean_of_its_channels(tmp_path):
    left, right = _sine(300, 16000, 1600), _sine(700, 16000, 1600, amplitude=0.25)
    path = _write_riff(tmp_path / "stereo.wav", _pcm16(np.stack([left, right], axis=1)),
                       channels=2)
    np.testing.assert_allclose(audio.read_wav(path), (left + right) / 2, atol=1 / 32768)


@pytest.mark.parametrize("sample_rate, channels", [(44100, 2), (8000, 1), (48000, 1)])
def test_a_sine_keeps_its_frequency_after_resampling(tmp_path, sample_rate, channels):
    frequency = 1234.5
    num_frames = sample_rate  # one second
    sine = _sine(frequency, sample_rate, num_frames)
    path = _write_riff(tmp_path / "sine.wav", _pcm16(np.stack([sine] * channels, axis=1)),
                       channels=channels, sample_rate=sample_rate)
    waveform = audio.read_wav(path, target_rate=16000)
    spectrum = np.abs(np.fft.rfft(waveform * np.hanning(len(waveform))))
    expected_bin = frequency * len(waveform) / 16000
    assert abs(int(np.argmax(spectrum)) - expected_bin) <= 1
    assert abs(np.std(waveform) - np.std(sine)) < 0.02  # amplitude preserved too


def test_csv_corpus_with_stereo_8k_and_48k_audio_reads_as_16k_mono(tmp_path):
    shapes = {"stereo44k": (44100, 2), "mono8k": (8000, 1), "mono48k": (48000, 1),
              "mono16k": (16000, 1)}
    os.makedirs(tmp_path / "wavs")
    rows = ["path,speaker,session,emotion"]
    for number, (name, (sample_rate, channels)) in enumerate(shapes.items()):
        samples = np.stack([_sine(500, sample_rate, sample_rate // 2)] * channels, axis=1)
        _write_riff(tmp_path / "wavs" / f"{name}.wav", _pcm16(samples), channels=channels,
                    sample_rate=sample_rate)
        rows.append(f"wavs/{name}.wav,spk{number % 2},s{number % 2},neutral")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("\n".join(rows) + "\n")
    listing = csv_manifest.read_csv_manifest(str(manifest))
    assert sorted(u.utterance_id for u in listing.utterances) == sorted(
        f"wavs/{name}" for name in shapes)
    for utterance in listing.utterances:
        waveform = audio.read_wav(utterance.path, target_rate=16000)
        assert waveform.ndim == 1 and abs(len(waveform) - 8000) <= 1


# ----------------------------------------------------------------------------------------------
# IEMOCAP release layout
# ----------------------------------------------------------------------------------------------

_HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]"
_GOOD_LINE = "[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]"


def _release(root, summary_lines, dialog="Ses01F_impro01"):
    """A one-dialog IEMOCAP tree whose label file holds `summary_lines` (each with evaluator lines).

    Returns (root, label file path). The summary line i sits on line 3 + 3 * i.
    """
    label_dir = os.path.join(root, "Session1", "dialog", "EmoEvaluation")
    wav_dir = os.path.join(root, "Session1", "sentences", "wav", dialog)
    os.makedirs(label_dir, exist_ok=True)
    os.makedirs(wav_dir, exist_ok=True)
    lines = [_HEADER, ""]
    for line in summary_lines:
        lines += [line, "C-E2:\tNeutral;\t()", ""]
    label_path = os.path.join(label_dir, f"{dialog}.txt")
    with open(label_path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    for number in range(10):
        for gender in "FM":
            open(os.path.join(wav_dir, f"{dialog}_{gender}{number:03d}.wav"), "wb").close()
    return str(root), label_path


def test_missing_corpus_folder_error_names_folder_and_expected_layout(tmp_path):
    root = str(tmp_path / "IEMOCAP_full_release")
    with pytest.raises(corpora.CorpusError) as error:
        iemocap.read_iemocap(root)
    message = str(error.value)
    assert root in message
    assert "Session1..Session5" in message and "dialog/EmoEvaluation" in message
    assert "sentences/wav" in message


def test_corpus_path_that_is_a_file_error_names_it(tmp_path):
    path = tmp_path / "IEMOCAP_full_release.tar.gz"
    path.write_bytes(b"\x1f\x8b")
    with pytest.raises(corpora.CorpusError, match="Session1..Session5") as error:
        iemocap.read_iemocap(str(path))
    assert str(path) in str(error.value)


def test_folder_without_sessions_error_names_folder_and_expected_layout(tmp_path):
    os.makedirs(tmp_path / "downloads" / "IEMOCAP_full_release" / "Session1")
    root = str(tmp_path / "downloads")  # one level too high
    with pytest.raises(corpora.CorpusError, match="no SessionN folder") as error:
        iemocap.read_iemocap(root)
    assert root in str(error.value) and "dialog/EmoEvaluation" in str(error.value)


def test_session_without_emoevaluation_error_names_session_and_expected_layout(tmp_path):
    _release(tmp_path, [_GOOD_LINE])
    os.makedirs(tmp_path / "Session2" / "dialog" / "wav")
    with pytest.raises(corpora.CorpusError) as error:
        iemocap.read_iemocap(str(tmp_path))
    message = str(error.value)
    assert str(tmp_path / "Session2") in message and "dialog/EmoEvaluation" in message
    assert "Session1..Session5" in message


def test_label_file_with_a_foreign_name_error_names_it(tmp_path):
    root, label_path = _release(tmp_path, [_GOOD_LINE])
    stray = os.path.join(os.path.dirname(label_path), "notes.txt")
    with open(stray, "w") as handle:
        handle.write("my notes\n")
    with pytest.raises(corpora.CorpusError, match="not an IEMOCAP dialog label file") as error:
        iemocap.read_iemocap(root)
    assert stray in str(error.value)


def test_label_file_that_is_not_text_error_names_it(tmp_path):
    root, label_path = _release(tmp_path, [_GOOD_LINE])
    with open(label_path, "ab") as handle:
        handle.write(b"\xff\xfe\x80binary")
    with pytest.raises(corpora.CorpusError) as error:
        iemocap.read_iemocap(root)
    assert label_path in str(error.value)


@pytest.mark.parametrize("bad_line", [
    "[6.2901 - 8.2357]\tSes01F_impro01_F001\tneu\t[2.5000, 2.5000]",         # two scores
    "[6.2901 - 8.2357]\tSes01F_impro01_F001\t[2.5000, 2.5000, 2.5000]",       # no label
    "[6.2901 - 8.2357\tSes01F_impro01_F001\tneu\t[2.5000, 2.5000, 2.5000]",   # no ]
    "[6.2901 8.2357]\tSes01F_impro01_F001\tneu\t[2.5000, 2.5000, 2.5000]",    # no -
    "[6.2901 - 8.2357]\tSes01F_impro01_F001\tneu\t2.5000, 2.5000, 2.5000",    # no brackets
    "[6.2901 - 8.2357]\tSes01F_impro01_F001\tneu\t[2.5000, 2.5000, 2.5000] x",
    "[6.2901 - 8.2357]Ses01F_impro01_F001\tneu\t[2.5000, 2.5000, 2.5000]",    # no separator
    "[",
    "6.2901 - 8.2357]\tSes01F_impro01_F001\tneu\t[2.5000, 2.5000, 2.5000]",   # lost its [
    "%[6.2901 - 8.2357]\tSes01F_impro01_F001\tneu\t[2.5000, 2.5000, 2.5000]",
    "Ses01F_impro01_F001\tneu\t[2.5000, 2.5000, 2.5000]",                      # no times
    "[6.2901 - 8.2357]\tSes01F_impro01_F01\tneu\t[2.5000, 2.5000, 2.5000]",   # id: two digits
    "[6.2901 - 8.2357]\tSes01F_impro02_F001\tneu\t[2.5000, 2.5000, 2.5000]",  # other dialog
])
def test_malformed_summary_line_error_names_file_line_and_the_line(tmp_path, bad_line):
    root, label_path = _release(tmp_path, [_GOOD_LINE, bad_line])
    with pytest.raises(corpora.CorpusError) as error:
        iemocap.read_iemocap(root)
    message = str(error.value)
    assert f"{label_path}:6:" in message
    assert bad_line.strip() in message


def test_unknown_label_error_names_file_line_label_and_the_line(tmp_path):
    bad_line = "[6.2901 - 8.2357]\tSes01F_impro01_F001\tcalm\t[2.5000, 2.5000, 2.5000]"
    root, label_path = _release(tmp_path, [_GOOD_LINE, bad_line])
    with pytest.raises(corpora.CorpusError, match="unknown emotion label 'calm'") as error:
        iemocap.read_iemocap(root)
    assert f"{label_path}:6:" in str(error.value) and bad_line in str(error.value)


@pytest.mark.parametrize("scores, problem", [
    ("0.0000, 2.0000, 2.0000", "valence score 0.0000 is outside"),
    ("2.0000, 6.0000, 2.0000", "arousal score 6.0000 is outside"),
    ("2.0000, 2.0000, 17.5", "dominance score 17.5 is outside"),
    ("-1.0000, 2.0000, 2.0000", "valence score -1.0000 is outside"),
    ("2.0000, nan, 2.0000", "arousal score 'nan' is not a number"),
    ("2.0000, 2.0000, 1e400", "dominance score '1e400' is not a number"),
    ("2,5000, 2.0000, 2.0000", "malformed summary line"),
])
def test_vad_score_out_of_range_error_names_file_line_score_and_the_line(tmp_path, scores,
                                                                         problem):
    bad_line = f"[6.2901 - 8.2357]\tSes01F_impro01_F001\tneu\t[{scores}]"
    root, label_path = _release(tmp_path, [_GOOD_LINE, bad_line])
    with pytest.raises(corpora.CorpusError, match=problem) as error:
        iemocap.read_iemocap(root)
    assert f"{label_path}:6:" in str(error.value) and bad_line in str(error.value)


def test_missing_wav_of_a_kept_utterance_error_names_label_line_and_wav(tmp_path):
    root, label_path = _release(tmp_path, [_GOOD_LINE])
    wav_path = os.path.join(root, "Session1", "sentences", "wav", "Ses01F_impro01",
                            "Ses01F_impro01_F000.wav")
    os.remove(wav_path)
    with pytest.raises(corpora.CorpusError) as error:
        iemocap.read_iemocap(root)
    assert f"{label_path}:3:" in str(error.value) and wav_path in str(error.value)


def test_evaluator_header_and_blank_lines_are_not_summary_lines(tmp_path):
    root, label_path = _release(tmp_path, [_GOOD_LINE])
    with open(label_path, "a", encoding="utf-8") as handle:
        handle.write("C-E3:\tAnger; Frustration;\t(voice rises)\nA-E1:\tval 3; act 2; dom  2;\t()\n"
                     "C-F1:\tNeutral;\t()\nA-M1:\tval 2; act 3; dom  3;\t()\n\n   \n")
    listing = iemocap.read_iemocap(root)
    assert [u.utterance_id for u in listing.utterances] == ["Ses01F_impro01_F000"]


def test_wav_faults_inside_an_iemocap_tree_name_the_wav(tmp_path):
    """The reader checks existence only; decoding (prepare) names the bad wav."""
    root, _ = _release(tmp_path, [_GOOD_LINE])
    (utterance,) = iemocap.read_iemocap(root).utterances
    with pytest.raises(audio.AudioError, match="empty") as error:  # _release writes empty wavs
        audio.read_wav(utterance.path)
    assert utterance.path in str(error.value)


# ----------------------------------------------------------------------------------------------
# CSV manifests
# ----------------------------------------------------------------------------------------------


def _manifest(tmp_path, text, name="manifest.csv"):
    os.makedirs(tmp_path / "wavs", exist_ok=True)
    for stem in ("a", "b", "c"):
        open(tmp_path / "wavs" / f"{stem}.wav", "wb").close()
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("header, missing", [
    ("speaker,session,emotion", "path"),
    ("path,session,emotion", "speaker"),
    ("path,speaker,emotion", "session"),
    ("path,speaker,session,label", "emotion"),
])
def test_missing_column_error_names_file_and_column(tmp_path, header, missing):
    cells = ",".join(["wavs/a.wav", "x", "y", "z"][:len(header.split(","))])
    path = _manifest(tmp_path, f"{header}\n{cells}\n")
    with pytest.raises(corpora.CorpusError, match=f"required column '{missing}' is missing") \
            as error:
        csv_manifest.read_csv_manifest(path)
    assert path in str(error.value)


def test_header_missing_a_column_is_reported_before_the_rows_it_misaligns(tmp_path):
    path = _manifest(tmp_path, "path,speaker,emotion\nwavs/a.wav,anna,1,sad\n")
    with pytest.raises(corpora.CorpusError,
                       match="required column 'session' is missing") as error:
        csv_manifest.read_csv_manifest(path)
    assert path in str(error.value)


@pytest.mark.parametrize("rows, expected", [
    # An empty aux cell, a whitespace-only one, a short row (cells missing at the end).
    ("wavs/a.wav,s1,1,sad,2.0,3.0\nwavs/b.wav,s1,1,sad,,3.0\n", "row 3, column 'valence'"),
    ("wavs/a.wav,s1,1,sad,2.0,3.0\nwavs/b.wav,s1,1,sad,2.0,  \n", "row 3, column 'arousal'"),
    ("wavs/a.wav,s1,1,sad,2.0\n", "row 2, column 'arousal'"),
    ("wavs/a.wav,s1,1,sad,2.0,abc\n", "row 2, column 'arousal': 'abc' is not a number"),
    ("wavs/a.wav,s1,1,sad,2.0,9\n", "row 2, column 'arousal': score 9 is outside"),
    ("wavs/a.wav,s1,1,sad,nan,2\n", "row 2, column 'valence': score nan is outside"),
    ("wavs/a.wav,,1,sad,2.0,3.0\n", "row 2, column 'speaker': the cell is empty"),
    ("\n\nwavs/a.wav,s1,,sad,2.0,3.0\n", "row 4, column 'session': the cell is empty"),
    ("wavs/a.wav,s1,1,,2.0,3.0\n", "row 2, column 'emotion': the cell is empty"),
    (",s1,1,sad,2.0,3.0\n", "row 2, column 'path': the cell is empty"),
    ("wavs/a.wav,s1,1,sad,2.0,3.0,extra\n", "row 2 has more cells than the header"),
])
def test_bad_cell_error_names_file_row_and_column(tmp_path, rows, expected):
    path = _manifest(tmp_path, "path,speaker,session,emotion,valence,arousal\n" + rows)
    with pytest.raises(corpora.CorpusError) as error:
        csv_manifest.read_csv_manifest(path)
    assert f"{path}: {expected}" in str(error.value)


def test_speaker_listed_in_another_session_error_names_rows_speaker_and_sessions(tmp_path):
    path = _manifest(tmp_path, ("path,speaker,session,emotion\n"
                                "wavs/a.wav,anna,1,sad\n"
                                "wavs/b.wav,ben,2,sad\n"
                                "wavs/c.wav,anna,2,sad\n"))
    with pytest.raises(corpora.CorpusError) as error:
        csv_manifest.read_csv_manifest(path)
    message = str(error.value)
    assert f"{path}: row 4" in message and "row 2" in message
    assert "'anna'" in message and "'1'" in message and "'2'" in message


def test_missing_wav_error_names_row_and_wav(tmp_path):
    path = _manifest(tmp_path, "path,speaker,session,emotion\nwavs/a.wav,s,1,sad\n"
                               "wavs/zzz.wav,s,1,sad\n")
    with pytest.raises(corpora.CorpusError) as error:
        csv_manifest.read_csv_manifest(path)
    assert f"{path}: row 3" in str(error.value)
    assert str(tmp_path / "wavs" / "zzz.wav") in str(error.value)


def test_manifest_that_is_empty_or_not_utf8_error_names_it(tmp_path):
    empty = _manifest(tmp_path, "", name="empty.csv")
    with pytest.raises(corpora.CorpusError, match="empty") as error:
        csv_manifest.read_csv_manifest(empty)
    assert empty in str(error.value)
    latin1 = tmp_path / "latin1.csv"
    latin1.write_bytes("path,speaker,session,emotion\nwavs/a.wav,Jos\xe9,1,sad\n".encode("latin-1"))
    with pytest.raises(corpora.CorpusError, match="UTF-8") as error:
        csv_manifest.read_csv_manifest(str(latin1))
    assert str(latin1) in str(error.value)


def test_valid_manifest_with_extra_labels_counts_exclusions(tmp_path):
    path = _manifest(tmp_path, ("path,speaker,session,emotion\n"
                                "wavs/a.wav,s1,1,neu\nwavs/b.wav,s1,1,fru\nwavs/c.wav,s2,2,fru\n"))
    listing = csv_manifest.read_csv_manifest(path)
    assert [u.utterance_id for u in listing.utterances] == ["wavs/a"]
    assert listing.excluded == collections.Counter({"label fru": 2})

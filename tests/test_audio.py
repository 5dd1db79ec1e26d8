"""Reading wav files (mmtl_tf.audio): every unusable file fails naming it; other rates and channel
counts are converted to 16 kHz mono, not an error.

Odd wavs are written byte by byte with `struct`, so the tests do not depend on a writer that would
refuse to produce them.
"""

import os
import resource
import stat
import struct
import subprocess
import sys
import tracemalloc

import numpy as np
import pytest

from mmtl_tf import audio

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


@pytest.mark.parametrize("content, named", [
    (b"fLaC\x00\x00\x00\x22" + bytes(40), "a FLAC file"),
    (b"OggS\x00\x02" + bytes(40), "an Ogg file"),
    (b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(40), "an MP3 file"),
    (b"\xff\xfb\x90\x64" + bytes(40), "an MP3 file"),
    (b"RF64\xff\xff\xff\xffWAVE" + bytes(40), "an RF64 (64-bit wav) file"),
])
def test_other_audio_formats_named_like_a_wav_are_named_by_their_format(tmp_path, content, named):
    path = tmp_path / "renamed.wav"
    path.write_bytes(content)
    with pytest.raises(audio.AudioError, match="Re-export it") as error:
        audio.read_wav(str(path))
    assert str(path) in str(error.value) and f"{named}, not a RIFF/WAVE one" in str(error.value)


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
    (_PCM, 40, b"", "format tag 1, 40 bits"),  # 12-bit PCM is read: test_audio_containers
    (_PCM, 64, b"", "format tag 1, 64 bits"),
    (_ALAW, 8, b"", "format tag 6, 8 bits"),
    (_MULAW, 8, b"", "format tag 7, 8 bits"),
    (_IEEE_FLOAT, 16, b"", "format tag 3, 16 bits"),
    (_EXTENSIBLE, 24, _extensible_fmt_extra(24, _MULAW), "format tag 7, 24 bits"),
], ids=["pcm40", "pcm64", "alaw", "mulaw", "float16", "extensible-mulaw"])
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


@pytest.mark.parametrize("encoding, format_tag, bits", [
    ("pcm8", _PCM, 8), ("pcm16", _PCM, 16), ("pcm24", _PCM, 24), ("pcm32", _PCM, 32),
    ("float32", _IEEE_FLOAT, 32), ("float64", _IEEE_FLOAT, 64), ("pcm24", _EXTENSIBLE, 24)])
def test_every_common_encoding_reads_as_scipy_decodes_it(tmp_path, encoding, format_tag, bits):
    """8/16/24/32-bit PCM and 32/64-bit float (a 24-bit one also behind an EXTENSIBLE header),
    stereo, checked against scipy.io.wavfile's decoding scaled by the integer type's range."""
    import scipy.io.wavfile

    rng = np.random.default_rng(bits)
    stereo = rng.uniform(-1.0, 1.0, (801, 2))
    stereo[:4] = [[-1.0, 0.0], [0.999, -0.5], [0.25, -0.999], [0.0, 0.0]]
    if encoding.startswith("pcm"):
        full_scale = 2 ** (bits - 1)
        integers = np.clip(np.round(stereo * full_scale), -full_scale, full_scale - 1).astype(np.int64)
        if bits == 8:
            data = (integers + 128).astype(np.uint8).tobytes()
        else:
            data = b"".join(int(v).to_bytes(bits // 8, "little", signed=True)
                            for v in integers.ravel())
    else:
        data = stereo.astype(f"<f{bits // 8}").tobytes()
    fmt_extra = _extensible_fmt_extra(bits, _PCM) if format_tag == _EXTENSIBLE else b""
    path = _write_riff(tmp_path / f"{encoding}.wav", data, format_tag=format_tag, channels=2,
                       bits=bits, fmt_extra=fmt_extra)
    info = audio.inspect_wav(path)
    assert (info["format"], info["bits_per_sample"], info["num_frames"]) == (encoding, bits, 801)
    _, decoded = scipy.io.wavfile.read(path)
    if decoded.dtype == np.uint8:
        expected = (decoded.astype(np.float64) - 128) / 128
    elif decoded.dtype.kind == "i":  # scipy returns 24-bit samples in the top of an int32
        expected = decoded.astype(np.float64) / 2.0 ** (8 * decoded.dtype.itemsize - 1)
    else:
        expected = decoded.astype(np.float64)
    mono = audio.read_wav(path)
    np.testing.assert_allclose(mono, expected.mean(axis=1), rtol=0, atol=1e-6)
    assert mono[0] == pytest.approx(-0.5) and np.abs(mono).max() <= 1.0


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


# ----------------------------------------------------------------------------------------------
# what is not a readable wav file at all; writing; imports
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("sample_rate, accepted", [
    (1, False), (999, False), (1000, True), (384000, True), (384001, False), (0x7FFFFFFF, False)])
def test_sample_rates_outside_1_khz_to_384_khz_are_refused_naming_the_file(tmp_path, sample_rate,
                                                                           accepted):
    path = _write_riff(tmp_path / "rate.wav", _pcm16(_sine(440, 16000, 8000)),
                       sample_rate=sample_rate)
    if accepted:
        assert audio.inspect_wav(path)["sample_rate"] == sample_rate
        return
    for function in (audio.inspect_wav, audio.read_wav):
        with pytest.raises(audio.AudioError, match=f"{sample_rate} Hz, outside the 1000..384000"
                           ) as error:
            function(path)
        assert path in str(error.value)


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_a_directory_or_fifo_named_like_a_wav_is_not_a_regular_file(tmp_path, kind):
    path = tmp_path / "x.wav"
    if kind == "directory":
        path.mkdir()
    else:
        os.mkfifo(path)  # opening it would block: it must be refused before that
    for function in (audio.inspect_wav, audio.read_wav):
        with pytest.raises(audio.AudioError, match="not a regular file") as error:
            function(str(path))
        assert str(path) in str(error.value) and "not found" not in str(error.value)


def test_an_unreadable_wav_is_an_audio_error_naming_it(tmp_path, monkeypatch):
    path = _write_riff(tmp_path / "locked.wav", _pcm16(_sine(440, 16000, 1600)))
    if os.geteuid() != 0:
        os.chmod(path, 0)
    else:  # root reads any file: refuse the open as the file system would
        def refuse(name, *args, **kwargs):
            raise PermissionError(13, "Permission denied", name)
        monkeypatch.setattr(audio, "open", refuse, raising=False)
    try:
        for function in (audio.inspect_wav, audio.read_wav):
            with pytest.raises(audio.AudioError, match="cannot be read .Permission denied") \
                    as error:
                function(path)
            assert path in str(error.value)
    finally:
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)


def test_written_wavs_are_the_bytes_tensorflow_writes_and_read_back(tmp_path):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel (the reference only)

    rng = np.random.default_rng(0)
    edges = np.array([0.0, 0.5 / 32768, -0.5 / 32768, 1.5 / 32768, -1.0, 1.0, 2.0, -2.0])
    for samples in (np.concatenate([edges, rng.uniform(-1.1, 1.1, 1000)]),
                    rng.uniform(-1, 1, (500, 2))):
        samples = samples.astype(np.float32)
        expected = tf.audio.encode_wav(
            tf.clip_by_value(samples.reshape(len(samples), -1), -1.0, 32767.0 / 32768.0),
            16000).numpy()
        assert audio.encode_wav(samples, 16000) == expected
    path = str(tmp_path / "written.wav")
    audio.write_wav(path, samples, 22050)
    assert audio.inspect_wav(path)["sample_rate"] == 22050 and os.listdir(tmp_path) == [
        "written.wav"]
    np.testing.assert_allclose(audio.read_wav(path, 22050), samples.mean(axis=1), atol=1 / 32768)


def test_reading_audio_and_corpora_does_not_load_tensorflow():
    repository = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = ("import sys; import mmtl_tf.audio, mmtl_tf.corpora.csv_manifest, "
            "mmtl_tf.corpora.iemocap, mmtl_tf.corpora.ravdess, mmtl_tf.corpora.synthetic, "
            "mmtl_tf.tfrecord_dir; "
            "print('tensorflow' in sys.modules, 'mmtl_tf.algorithms' in sys.modules)")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                               cwd=repository, env={**os.environ, "PYTHONPATH": repository},
                               timeout=120)
    assert completed.stdout.split() == ["False", "False"], completed.stderr


def test_a_streamed_wav_with_a_placeholder_size_is_named_as_such(tmp_path):
    """A recorder or pipe that never went back to write the sizes leaves 0xFFFFFFFF: not a
    truncated file, and the message says how to repair it."""
    path = _write_riff(tmp_path / "streamed.wav", _pcm16(_sine(220, 16000, 1600)),
                       data_size=0xFFFFFFFF)
    with pytest.raises(audio.AudioError, match="placeholder .*sox in.wav out.wav") as error:
        audio.inspect_wav(path)
    assert path in str(error.value) and "truncated" not in str(error.value)

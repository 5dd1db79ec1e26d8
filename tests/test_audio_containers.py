"""Wav layouts real corpora ship that a packed-sample reader gets wrong (mmtl_tf.audio): the block
align (bytes per frame) decides the sample slots, and a pad byte after an odd-sized chunk may be
missing. Files are written byte by byte; each decode is compared with an independent one."""

import struct

import numpy as np
import pytest

from mmtl_tf import audio

_PCM = 1


def _write(path, data, *, bits, block_align, channels=1, chunks_before_fmt=b""):
    """A RIFF/WAVE file whose fmt chunk states `bits` and `block_align` as given."""
    fmt = struct.pack("<HHIIHH", _PCM, channels, 16000, 16000 * block_align, block_align, bits)
    body = (b"WAVE" + chunks_before_fmt + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"data" + struct.pack("<I", len(data)) + data)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return str(path)


def _int24_bytes(values):
    """int [-2^23, 2^23) -> little-endian 3-byte samples."""
    values = np.asarray(values, np.int64) & 0xFFFFFF
    return np.stack([values & 255, (values >> 8) & 255, values >> 16], 1).astype(np.uint8).tobytes()


def _ramp(count, bits):
    """Full-scale test samples of `bits` bits: a sine with both extremes."""
    peak = 2 ** (bits - 1)
    values = np.round(np.sin(np.linspace(0, 20, count)) * (peak - 1)).astype(np.int64)
    values[:2] = (-peak, peak - 1)
    return values


def test_24_bit_samples_in_4_byte_slots_are_refused_not_read_as_packed_noise(tmp_path):
    # 24 valid bits in 32-bit slots with a plain (not EXTENSIBLE) header: the old reader took 3
    # bytes a sample, giving 4/3 as many samples of noise
    values = _ramp(1600, 24) << 8
    path = _write(tmp_path / "slots.wav", values.astype("<i4").tobytes(), bits=24, block_align=4)
    for function in (audio.inspect_wav, audio.read_wav):
        with pytest.raises(audio.AudioError, match=r"slots\.wav: .*24-bit samples but 4 bytes "
                                                   r"per frame \(block align\), not 3"):
            function(path)


def test_a_block_align_that_does_not_fit_the_channels_is_refused(tmp_path):
    # stereo 16-bit whose header says 2 bytes a frame (a writer that forgot the channels)
    data = np.zeros(800, "<i2").tobytes()
    path = _write(tmp_path / "stereo.wav", data, bits=16, block_align=2, channels=2)
    with pytest.raises(audio.AudioError, match=r"stereo\.wav: .*2 channel\(s\) of 16-bit"):
        audio.read_wav(path)


@pytest.mark.parametrize("bits,width", [(20, 3), (12, 2)])
def test_pcm_of_20_or_12_bits_reads_left_justified_in_its_bytes(tmp_path, bits, width):
    # the WAVE format stores such samples left-justified in whole bytes, low bits zero
    values = _ramp(1600, bits) << (8 * width - bits)
    data = _int24_bytes(values) if width == 3 else values.astype("<i2").tobytes()
    path = _write(tmp_path / "narrow.wav", data, bits=bits, block_align=width)
    info = audio.inspect_wav(path)
    assert (info["sample_bytes"], info["num_frames"]) == (width, 1600)
    expected = values / 2.0 ** (8 * width - 1)
    np.testing.assert_array_equal(audio.read_wav(path), expected.astype(np.float32))
    assert audio.read_wav(path).min() == -1.0


@pytest.mark.parametrize("pad", [b"", b"\0"])
def test_an_odd_sized_chunk_without_its_pad_byte_is_read_on(tmp_path, pad):
    # some writers leave out the pad byte after an odd-sized LIST chunk; the old reader lost the
    # chunk boundary and refused the file as having no data chunk
    values = _ramp(800, 16)
    odd_chunk = b"LIST" + struct.pack("<I", 5) + b"INFOa" + pad
    path = _write(tmp_path / "odd.wav", values.astype("<i2").tobytes(), bits=16, block_align=2,
                  chunks_before_fmt=odd_chunk)
    np.testing.assert_array_equal(audio.read_wav(path), (values / 32768.0).astype(np.float32))


def test_a_pad_byte_that_reads_like_a_chunk_id_is_still_a_pad_byte(tmp_path):
    # an odd chunk, its pad byte, then a chunk: reading one byte back must not be preferred
    values = _ramp(800, 16)
    chunks = (b"bext" + struct.pack("<I", 3) + b"abc\0"
              + b"junk" + struct.pack("<I", 2) + b"zz")
    path = _write(tmp_path / "padded.wav", values.astype("<i2").tobytes(), bits=16,
                  block_align=2, chunks_before_fmt=chunks)
    np.testing.assert_array_equal(audio.read_wav(path), (values / 32768.0).astype(np.float32))


def test_a_zero_data_size_before_real_samples_is_named_as_an_unfinished_header(tmp_path):
    # a recorder killed before it wrote the sizes: data size 0, samples after it
    fmt = struct.pack("<HHIIHH", _PCM, 1, 16000, 32000, 2, 16)
    samples = _ramp(800, 16).astype("<i2").tobytes()
    path = tmp_path / "unfinished.wav"
    path.write_bytes(b"RIFF" + struct.pack("<I", 0) + b"WAVEfmt " + struct.pack("<I", 16) + fmt
                     + b"data" + struct.pack("<I", 0) + samples)
    with pytest.raises(audio.AudioError, match=r"unfinished\.wav: the data chunk's size is 0 but "
                                               r"1600 bytes follow it.*--ignore-length"):
        audio.read_wav(str(path))
    empty = _write(tmp_path / "empty.wav", b"", bits=16, block_align=2)
    with pytest.raises(audio.AudioError, match=r"empty\.wav: the data chunk holds no samples"):
        audio.read_wav(empty)


def test_stereo_whose_channels_cancel_out_is_refused_not_read_as_silence(tmp_path):
    # one channel the other inverted (a miswired balanced input): the mean of the two is 0
    values = np.maximum(_ramp(1600, 16), -32767)  # -(-32768) does not fit 16 bits
    data = np.stack([values, -values], 1).astype("<i2").tobytes()
    path = _write(tmp_path / "inverted.wav", data, bits=16, block_align=4, channels=2)
    with pytest.raises(audio.AudioError, match=r"inverted\.wav: its 2 channels cancel out when "
                                               r"mixed to mono.*remix 1"):
        audio.read_wav(path)
    # two different talkers' channels, and one silent channel, are mixed as before
    other = _ramp(1600, 16)[::-1]
    for second in (other, np.zeros_like(values)):
        data = np.stack([values, second], 1).astype("<i2").tobytes()
        path = _write(tmp_path / "mixed.wav", data, bits=16, block_align=4, channels=2)
        np.testing.assert_allclose(audio.read_wav(path), (values + second) / 65536.0,
                                   atol=1e-7)

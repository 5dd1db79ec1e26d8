"""Reading wav files into mono float32 waveforms at the feature sample rate.

tensorflow-io cannot load its native ops on TensorFlow >= 2.18 (BUILD.md), and
`tf.audio.decode_wav` rejects valid files it does not expect (WAVE_FORMAT_EXTENSIBLE headers, fmt
chunks of other sizes, an odd-sized data chunk without its pad byte, any width but 16 bits), so the
samples are decoded with numpy from the data chunk the header check located: 8-bit (unsigned), 16-,
24- and 32-bit integer PCM and 32- and 64-bit IEEE float, as recorders and corpora write them
(`ENCODINGS`; PCM of other widths, 12 or 20 bits, fills 2 or 3 bytes and is read as those); A-law,
mu-law and compressed formats are refused, and so is a block align (bytes per frame) other than
the packed samples' (24 bits in 4 bytes), which would be noise read packed. Some writers leave
out the pad byte after an odd-sized chunk; the header check notices and reads on from there.
That check reads the RIFF header in Python from its first bytes: a missing, empty, non-wav or
truncated file (a chunk claiming more data than the file holds) raises `AudioError` naming the
file, and nothing large is allocated on a lying header. So does a header whose sample rate lies
outside MIN_SAMPLE_RATE..MAX_SAMPLE_RATE (1 kHz to 384 kHz): below 1 kHz no speech band
survives, 384 kHz is the highest rate audio interfaces record, and a rate outside them is a
damaged header (1 Hz would make 8000 samples 8000 s of audio).
Channels are mixed to mono (channels that cancel out, one the other inverted, are refused), and
any other sample rate is converted with scipy's polyphase resampler. `write_wav` writes 16-bit
PCM, the bytes `tf.audio.encode_wav` would write, without TensorFlow. This module imports no
TensorFlow.
"""

import math
import os
import stat
import struct

import numpy as np
import scipy.signal

from mmtl_tf import atomic_files

MIN_SAMPLE_RATE = 1000
MAX_SAMPLE_RATE = 384000
_PCM = 1
_IEEE_FLOAT = 3
_EXTENSIBLE = 0xFFFE
# Leading bytes of audio files that are not RIFF/WAVE, named in the error.
_OTHER_FORMATS = ((b"fLaC", "a FLAC"), (b"OggS", "an Ogg"), (b"ID3", "an MP3"),
                  (b"\xff\xfb", "an MP3"), (b"\xff\xf3", "an MP3"), (b"\xff\xf2", "an MP3"),
                  (b"RF64", "an RF64 (64-bit wav)"), (b"RIFX", "a big-endian RIFX"),
                  (b"FORM", "an AIFF"), (b"NIST", "a NIST SPHERE"))
# (format tag, bits per sample) -> the encoding's name in `inspect_wav`'s record.
ENCODINGS = {(_PCM, 8): "pcm8", (_PCM, 16): "pcm16", (_PCM, 24): "pcm24", (_PCM, 32): "pcm32",
             (_IEEE_FLOAT, 32): "float32", (_IEEE_FLOAT, 64): "float64"}


class AudioError(ValueError):
    """A wav file that cannot be used; the message names the file and what to do."""


def _fail(path, problem):
    raise AudioError(f"{path}: {problem}. Re-export it as a 16-bit PCM wav "
                     f"(for example `sox in.wav -b 16 out.wav`) or remove it from the corpus.")


def inspect_wav(path: str) -> dict:
    """Validates a wav header without reading the samples.

    Args:
      path: the wav file.

    Returns:
      A dict with `format` (a name of `ENCODINGS`: "pcm16", "float32", ...), `bits_per_sample`,
      `sample_bytes` (the bytes each sample fills: 3 for 20-bit PCM), `channels`,
      `sample_rate`, `data_offset`, `data_bytes` and `num_frames` (samples per channel).

    Raises:
      AudioError: missing, unreadable, empty or not a regular file, not RIFF/WAVE, unsupported
        encoding, a block align (bytes per frame) other than the channels' packed samples, a
        sample rate outside MIN_SAMPLE_RATE..MAX_SAMPLE_RATE, or a data chunk that claims more
        bytes than the file holds.
    """
    try:
        mode = os.stat(path).st_mode
        if not stat.S_ISREG(mode):  # checked before opening: opening a FIFO would block
            kind = "a directory" if stat.S_ISDIR(mode) else "a FIFO, device or socket"
            _fail(path, f"not a regular file but {kind}")
        with open(path, "rb") as handle:
            return _read_header(path, handle, os.fstat(handle.fileno()).st_size)
    except FileNotFoundError:
        raise AudioError(f"{path}: file not found. Check the corpus path, or prepare with "
                         f"--skip_missing to count and list missing files instead.") from None
    except OSError as error:
        raise AudioError(f"{path}: cannot be read ({error.strerror}); check that it is a wav "
                         f"file you may read") from None


def _read_header(path, handle, size) -> dict:
    """`inspect_wav` on an open file of `size` bytes."""
    if size == 0:
        _fail(path, "the file is empty")
    riff = handle.read(12)
    if len(riff) < 12 or riff[:4] != b"RIFF" or riff[8:12] != b"WAVE":
        other = next((name for magic, name in _OTHER_FORMATS if riff.startswith(magic)), None)
        _fail(path, f"{other} file, not a RIFF/WAVE one" if other else
                    "not a RIFF/WAVE file (corrupt header or another format)")
    fmt = None
    unpadded = False  # the previous chunk was odd-sized and skipped with its pad byte
    while True:
        start = handle.tell()
        chunk = handle.read(8)
        if unpadded and not _plausible_chunk(chunk, size - start - 8):
            # some writers leave out the pad byte after an odd-sized chunk: one byte back?
            handle.seek(start - 1)
            chunk_before = handle.read(8)
            if _plausible_chunk(chunk_before, size - start - 7):
                chunk = chunk_before
            else:
                handle.seek(start + len(chunk))
        if len(chunk) < 8:
            _fail(path, "no data chunk found (truncated or corrupt file)")
        chunk_id, chunk_size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
        unpadded = chunk_size % 2 == 1
        if chunk_id == b"fmt ":
            if chunk_size > size - handle.tell():
                _fail(path, f"fmt chunk claims {chunk_size} bytes but the file holds only "
                            f"{size - handle.tell()} after it (corrupt header)")
            body = handle.read(chunk_size)
            if len(body) < 16:
                _fail(path, "fmt chunk is truncated")
            tag, channels, rate, _, block_align, bits = struct.unpack("<HHIIHH", body[:16])
            if tag == _EXTENSIBLE and len(body) >= 26:
                tag = struct.unpack("<H", body[24:26])[0]
            fmt = (tag, channels, rate, bits, block_align)
            handle.seek(chunk_size % 2, os.SEEK_CUR)
        elif chunk_id == b"data":
            offset = handle.tell()
            break
        else:
            handle.seek(chunk_size + chunk_size % 2, os.SEEK_CUR)
    if fmt is None:
        _fail(path, "no fmt chunk before the data chunk")
    tag, channels, rate, bits, block_align = fmt
    # PCM of 1-32 bits fills whole bytes, its bits left-justified (20-bit audio in 3 bytes):
    # decoded as the container, the unused low bits being zeros
    container = -(-bits // 8) * 8 if tag == _PCM and 0 < bits <= 32 else bits
    kind = ENCODINGS.get((tag, container))
    if kind is None:
        _fail(path, f"unsupported encoding (format tag {tag}, {bits} bits); supported: 8-, "
                    f"16-, 24- and 32-bit PCM and 32- and 64-bit float")
    if channels < 1:
        _fail(path, f"header says {channels} channels")
    if block_align != channels * container // 8:
        # samples padded to wider slots (24 bits in 4 bytes), or a damaged header: where the
        # bits lie in each slot is not defined, and reading them packed would be noise
        _fail(path, f"its header says {channels} channel(s) of {bits}-bit samples but "
                    f"{block_align} bytes per frame (block align), not {channels * container // 8}")
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        _fail(path, f"header says {rate} Hz, outside the {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE} Hz "
                    f"of real recordings (a damaged header)")
    if chunk_size == 0xFFFFFFFF:
        _fail(path, f"the data chunk's size is {chunk_size:#x}, the placeholder of a recorder or "
                    f"stream that never finished the header; rewrite the file with a tool that "
                    f"writes the sizes (e.g. `sox in.wav out.wav`)")
    if chunk_size > size - offset:
        _fail(path, f"header claims {chunk_size} bytes of audio but the file holds only "
                    f"{size - offset} after the header (truncated file)")
    frame_bytes = block_align
    if chunk_size == 0 and size - offset >= frame_bytes:
        _fail(path, f"the data chunk's size is 0 but {size - offset} bytes follow it, as a "
                    f"recorder or stream that never finished the header leaves it; rewrite the "
                    f"file with a tool that writes the sizes (e.g. `sox --ignore-length in.wav "
                    f"out.wav`)")
    if chunk_size < frame_bytes:
        _fail(path, "the data chunk holds no samples")
    return {"format": kind, "bits_per_sample": bits, "sample_bytes": container // 8,
            "channels": channels, "sample_rate": rate,
            "data_offset": offset, "data_bytes": chunk_size,
            "num_frames": chunk_size // frame_bytes}


def _plausible_chunk(chunk: bytes, remaining: int) -> bool:
    """Whether 8 bytes read as a chunk header: an id of four printable ASCII characters ("fmt ",
    "LIST") and a size the `remaining` bytes after it hold (a data chunk may claim more: the
    truncated file is named later)."""
    return (len(chunk) == 8 and all(0x20 <= byte <= 0x7E for byte in chunk[:4])
            and (chunk[:4] == b"data" or struct.unpack("<I", chunk[4:])[0] <= remaining))


def to_mono_at_rate(samples: np.ndarray, sample_rate: int, target_rate: int) -> np.ndarray:
    """Mixes [frames, channels] samples to mono and resamples them to `target_rate`.

    Args:
      samples: float array [frames] or [frames, channels].
      sample_rate: rate of `samples` in Hz.
      target_rate: the rate wanted (the feature config's).

    Returns:
      float32 [frames'] at `target_rate`.
    """
    samples = np.asarray(samples, np.float32)
    if samples.ndim == 2 and samples.shape[1] > 1:
        mono = samples.mean(axis=1)
    else:
        # One channel is its own mix. numpy's mean over an axis of length 1 was most of the CPU
        # of reading a wav (BUILD.md "Preparation"); it also made a -0.0 sample +0.0, which no
        # feature tells apart.
        mono = samples.reshape(-1)
    if sample_rate != target_rate:
        divisor = math.gcd(int(sample_rate), int(target_rate))
        mono = scipy.signal.resample_poly(mono, target_rate // divisor, sample_rate // divisor)
    return np.ascontiguousarray(mono, dtype=np.float32)


def read_wav(path: str, target_rate: int = 16000) -> np.ndarray:
    """Reads a wav as a mono float32 waveform in [-1, 1] at `target_rate`.

    Args:
      path: the wav file (an encoding of `ENCODINGS`, any rate, any channel count).
      target_rate: the sample rate to return.

    Returns:
      float32 [num_samples].

    Raises:
      AudioError: naming the file, for every unusable file (see `inspect_wav`), for
        non-finite samples, and for channels that cancel out when mixed to mono.
    """
    info = inspect_wav(path)
    width = info["sample_bytes"]
    try:
        with open(path, "rb") as handle:
            handle.seek(info["data_offset"])
            raw = handle.read(info["num_frames"] * info["channels"] * width)
    except OSError as error:
        raise AudioError(f"{path}: cannot be read ({error.strerror})") from None
    samples = decode_samples(raw, info["format"]).reshape(-1, info["channels"])
    refuse_non_finite(path, samples)
    if info["channels"] > 1:
        refuse_cancelling_channels(path, samples.shape[1], *channel_powers(samples))
    return to_mono_at_rate(samples, info["sample_rate"], target_rate)


def refuse_non_finite(path: str, samples: np.ndarray) -> None:
    """Fails (AudioError naming `path`) when any sample is NaN or infinite."""
    if not np.all(np.isfinite(samples)):
        _fail(path, "it contains NaN or infinite samples")


def channel_powers(samples: np.ndarray) -> tuple:
    """(channels' mean, mono mix's) sums of squares of [frames, channels] samples (pieces add)."""
    flat, mono = samples.ravel(), samples.mean(axis=1)
    return float(np.dot(flat, flat)) / samples.shape[1], float(np.dot(mono, mono))


def refuse_cancelling_channels(path: str, channels: int, channel_power, mono_power) -> None:
    """Fails for channels whose mix is near silence though they are not (one the other inverted,
    as a miswired balanced input records): mixed to mono, the speech would vanish."""
    if channel_power > 0 and mono_power < 1e-3 * channel_power:
        _fail(path, f"its {channels} channels cancel out when mixed to mono (one is probably "
                    f"another inverted); keep one channel, e.g. `sox in.wav out.wav remix 1`")


def decode_samples(raw: bytes, encoding: str) -> np.ndarray:
    """Little-endian samples of an `ENCODINGS` name as float32 in [-1, 1] (floats as stored).

    Integer PCM is scaled by 2^(bits-1), 8-bit PCM being unsigned (128 is silence); 24-bit
    samples are three bytes each, sign-extended.
    """
    if encoding == "pcm8":
        return (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    if encoding == "pcm24":
        triples = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        values = triples[:, 0] | (triples[:, 1] << 8) | (triples[:, 2] << 16)
        values = np.where(values >= 1 << 23, values - (1 << 24), values)
        return values.astype(np.float32) / np.float32(1 << 23)
    sample_type, scale = {"pcm16": ("<i2", 2.0 ** -15), "pcm32": ("<i4", 2.0 ** -31),
                          "float32": ("<f4", 1.0), "float64": ("<f8", 1.0)}[encoding]
    stored = np.frombuffer(raw, sample_type)
    if scale == 1.0:
        return stored.astype(np.float32)
    # Converted and scaled in one pass; the scale is a power of two: exact, as in float64.
    return np.multiply(stored, np.float32(scale), dtype=np.float32)


def encode_wav(waveform: np.ndarray, sample_rate: int) -> bytes:
    """Encodes float samples as a 16-bit PCM wav, byte for byte as `tf.audio.encode_wav` does.

    Args:
      waveform: float [frames] or [frames, channels]; values outside [-1, 1) are clipped.
      sample_rate: Hz written into the header.

    Returns:
      The file's bytes (a 44-byte header, then little-endian int16 samples, interleaved).
    """
    samples = np.asarray(waveform, np.float32)
    if samples.ndim == 1:
        samples = samples[:, np.newaxis]
    scaled = (np.clip(samples, -1.0, 32767.0 / 32768.0) * np.float32(32768.0)).astype(np.float64)
    rounded = np.trunc(scaled + np.copysign(0.5, scaled))  # C's roundf: halves away from zero
    data = np.clip(rounded, -32768, 32767).astype("<i2").tobytes()
    channels = samples.shape[1]
    header = struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + len(data), b"WAVE", b"fmt ", 16,
                         _PCM, channels, sample_rate, sample_rate * channels * 2, channels * 2,
                         16, b"data", len(data))
    return header + data


def write_wav(path: str, waveform: np.ndarray, sample_rate: int) -> None:
    """Writes float samples in [-1, 1] ([frames] or [frames, channels]) as a 16-bit PCM wav.

    Used by the synthetic corpus and by tests. The file appears atomically (`atomic_files`).
    """
    atomic_files.write_bytes(path, encode_wav(waveform, sample_rate))

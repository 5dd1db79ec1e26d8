"""Peak resident memory of preparing one long wav, decoded whole or read in pieces.

    python evidence/mend-2026-12/long_wav_memory.py write WAV MINUTES   # 48 kHz stereo float32
    python evidence/mend-2026-12/long_wav_memory.py measure WAV whole|pieces

`measure` runs `preparation_stream.feature_stream` (paper features, calls of at most 64
segments) over the one wav in this process and prints the peak resident set (ru_maxrss), the
seconds it took and a digest of the features, which must agree between the two ways. Run each
`measure` in a fresh process.
"""

import hashlib
import resource
import struct
import sys
import time

import numpy as np


def write(path: str, minutes: float, rate: int = 48000, channels: int = 2) -> None:
    """A noisy, amplitude-modulated tone, written a minute at a time (never whole in memory)."""
    frames = int(minutes * 60 * rate)
    data_bytes = frames * channels * 4
    with open(path, "wb") as handle:
        handle.write(struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + data_bytes, b"WAVE",
                                 b"fmt ", 16, 3, channels, rate, rate * channels * 4,
                                 channels * 4, 32, b"data", data_bytes))
        rng = np.random.default_rng(0)
        for start in range(0, frames, 60 * rate):
            time_s = np.arange(start, min(start + 60 * rate, frames)) / rate
            tone = 0.3 * np.sin(2 * np.pi * 180 * time_s) * (1 + 0.5 * np.sin(2 * np.pi * 3 * time_s))
            block = np.stack([tone + 0.05 * rng.standard_normal(time_s.shape)
                              for _ in range(channels)], axis=1)
            handle.write(block.astype("<f4").tobytes())


def measure(path: str, way: str) -> None:
    """Prepares the wav's features; prints peak RSS, seconds and the features' digest."""
    from mmtl_tf import config, corpora, preparation_stream  # pylint: disable=import-outside-toplevel
    feature_config = config.FeatureConfig()
    utterance = corpora.Utterance("long", path, "1F", "1", 0)
    lengths = preparation_stream.expected_lengths([utterance], feature_config)
    started = time.time()
    digest = hashlib.sha256()
    segments = 0
    for _, computed in preparation_stream.feature_stream([utterance], lengths, feature_config,
                                                         in_pieces=way == "pieces"):
        for name in ("spectrogram", "num_frames", "segment_index"):
            digest.update(np.ascontiguousarray(computed[name]).tobytes())
        segments = len(computed["num_frames"])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    print(f"{way}: {segments} segments, peak RSS {peak:.2f} GB, {time.time() - started:.1f} s, "
          f"features sha256 {digest.hexdigest()[:16]}")


if __name__ == "__main__":
    if sys.argv[1] == "write":
        write(sys.argv[2], float(sys.argv[3]))
    else:
        measure(sys.argv[2], sys.argv[3])

"""Frozen configuration records shared by the library.

Only the CLI modules read absl FLAGS; they turn them into these small frozen dataclasses and
pass them to library functions, so every library function is testable with plain arguments.
Each record validates itself once, in `__post_init__`, and raises `ValueError` naming the field.
"""

import dataclasses
import math


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    """Spectrogram features of paper section 3.1.1.

    Attributes:
      sample_rate: Hz every waveform is converted to before analysis.
      segment_seconds: upper bound on a segment's duration; an utterance of duration T becomes
        ceil(T / segment_seconds) segments of equal length (within one sample).
      window_ms: Hamming window length. The paper's text says 200 ms, which cannot fit its DFT of
        800 samples at 16 kHz; the authors' code uses 40 ms (640 samples), the default here.
      hop_ms: frame shift ("frame size of 10 ms" in the paper).
      fft_length: DFT length (800 in the paper: 20 Hz bins at 16 kHz).
      num_bins: lowest DFT bins kept (200 bins = 0 to 4 kHz at 20 Hz per bin).
      max_frames: time frames after zero padding (N = 300 in the paper).
      log_floor: added to the power before the log, so silence gives a finite value.
    """

    sample_rate: int = 16000
    segment_seconds: float = 3.0
    window_ms: float = 40.0
    hop_ms: float = 10.0
    fft_length: int = 800
    num_bins: int = 200
    max_frames: int = 300
    log_floor: float = 1e-10

    def __post_init__(self):
        if self.window_samples > self.fft_length:
            raise ValueError(
                f"window_ms={self.window_ms} gives {self.window_samples} samples, more than "
                f"fft_length={self.fft_length}: raise --fft_length or lower --window_ms")
        if self.num_bins > self.fft_length // 2 + 1:
            raise ValueError(f"num_bins={self.num_bins} exceeds fft_length//2+1="
                             f"{self.fft_length // 2 + 1}")
        if self.hop_samples < 1:
            raise ValueError(f"hop_ms={self.hop_ms} is shorter than one sample")
        if self.frames_for(self.segment_samples) > self.max_frames:
            raise ValueError(
                f"a {self.segment_seconds} s segment gives {self.frames_for(self.segment_samples)} "
                f"frames, more than max_frames={self.max_frames}")

    @property
    def window_samples(self) -> int:
        """Window length in samples (640 by default)."""
        return int(round(self.window_ms * self.sample_rate / 1000.0))

    @property
    def hop_samples(self) -> int:
        """Frame shift in samples (160 by default)."""
        return int(round(self.hop_ms * self.sample_rate / 1000.0))

    @property
    def segment_samples(self) -> int:
        """Maximum segment length in samples (48000 by default)."""
        return int(math.floor(self.segment_seconds * self.sample_rate))

    def frames_for(self, num_samples: int) -> int:
        """Number of full analysis frames in `num_samples` samples (0 when shorter than a window)."""
        if num_samples < self.window_samples:
            return 0
        return 1 + (num_samples - self.window_samples) // self.hop_samples

    def to_dict(self) -> dict:
        """JSON-ready dict; the manifest stores it and readers compare it field by field."""
        return dataclasses.asdict(self)


def describe_mismatch(expected: dict, found: dict) -> list:
    """Lists the fields whose values differ between two config dicts, as readable strings.

    Args:
      expected: the config the caller asked for (e.g. from flags).
      found: the config stored with the data (e.g. in manifest.json).

    Returns:
      A list like ["window_ms: requested 40.0, stored 25.0"]; empty when they agree.
    """
    keys = sorted(set(expected) | set(found))
    return [f"{key}: requested {expected.get(key)!r}, stored {found.get(key)!r}"
            for key in keys if expected.get(key) != found.get(key)]

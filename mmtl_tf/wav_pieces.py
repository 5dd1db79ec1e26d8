"""Reading a long wav piece by piece, so preparation's memory is bounded by a piece, not the file.

`audio.read_wav` decodes a whole file at once: an hour of 48 kHz stereo float32 is 1.4 GB of
bytes, as much again decoded, then the mono mix and the resampled waveform. Preparation computes
the features of a long utterance one segment per piece anyway (`preparation_stream._call_pieces`,
at most `MAX_SEGMENTS_PER_CALL` segments a call), so `WavPieces` reads only the frames a piece
needs: `piece(begin, end)` returns samples [begin, end) of the mono waveform at the target rate,
bit-identical to `audio.read_wav(path, rate)[begin:end]`.

Without resampling a piece is its own frames, mixed per frame as the whole file is. With
resampling (`scipy.signal.resample_poly`, as `audio.to_mono_at_rate`) the piece's frames are read
with `_context` frames more on each side (beyond the filter's half length), starting at a
multiple of the rate ratio's `down`, so the polyphase filter meets every output sample in the
phase and with the same input samples as on the whole file; the outputs are then equal to the
bit (tests/test_wav_pieces.py compares them at 8 to 96 kHz and at rates such as 44.1 kHz whose
ratio is not an integer).

The whole-file checks are kept, over the pieces: non-finite samples are refused in each piece;
the channels' and their mix's powers are summed over the frames (each counted once), and the
cancelling-channel check (`audio.refuse_cancelling_channels`) runs in `finish`, after the last
piece; the waveform's mean (the DC-offset warning) and whether any sample is non-zero (the
silence warning) are summed over the pieces too. The sums are float64 sums of float32 pieces,
where the whole-file path sums in float32: the powers and mean may differ in the last digits,
which moves a check only for a file within rounding of its threshold. This module imports no
TensorFlow.
"""

import math

import numpy as np

from mmtl_tf import audio


def _context(up: int, down: int) -> int:
    """Input frames read beyond a piece on each side: more than `resample_poly`'s default filter
    (half length 10 * max(up, down) in the upsampled domain) reaches."""
    return -(-10 * max(up, down) // up) + 2 * down + 2


class WavPieces:
    """A wav's mono waveform at `target_rate`, read piece by piece (see the module docstring).

    Attributes:
      path: the wav file.
      length: samples of the waveform at `target_rate` (as `audio.read_wav` returns them).
    """

    def __init__(self, path: str, target_rate: int):
        """Checks the header (`audio.inspect_wav`); reads no samples.

        Raises:
          audio.AudioError: an unusable wav, named.
        """
        self.path = path
        self._info = audio.inspect_wav(path)
        rate = self._info["sample_rate"]
        self._target_rate = target_rate
        divisor = math.gcd(rate, target_rate)
        self._up, self._down = target_rate // divisor, rate // divisor
        frames = self._info["num_frames"]
        self.length = frames if rate == target_rate else -(-frames * self._up // self._down)
        self._powers = [0.0, 0.0]  # channels' mean and mono mix's sums of squares
        self._counted = 0  # input frames whose powers are summed
        self._sum, self._nonzero = 0.0, False  # over the output samples

    def __len__(self) -> int:
        return self.length

    def _frames(self, start: int, stop: int) -> np.ndarray:
        """Input frames [start, stop) decoded as float32 [frames, channels]."""
        info = self._info
        frame_bytes = info["channels"] * info["sample_bytes"]
        try:
            with open(self.path, "rb") as handle:
                handle.seek(info["data_offset"] + start * frame_bytes)
                raw = handle.read((stop - start) * frame_bytes)
        except OSError as error:
            raise audio.AudioError(f"{self.path}: cannot be read ({error.strerror})") from None
        if len(raw) != (stop - start) * frame_bytes:
            raise audio.AudioError(f"{self.path}: the file ended after "
                                   f"{start + len(raw) // frame_bytes} of "
                                   f"{info['num_frames']} frames (changed while read?)")
        samples = audio.decode_samples(raw, info["format"]).reshape(-1, info["channels"])
        audio.refuse_non_finite(self.path, samples)
        if info["channels"] > 1 and stop > self._counted:  # each frame's power once
            powers = audio.channel_powers(samples[max(self._counted - start, 0):])
            self._powers = [total + part for total, part in zip(self._powers, powers)]
            self._counted = stop
        return samples

    def piece(self, begin: int, end: int) -> np.ndarray:
        """Samples [begin, end) of the waveform, float32; pieces are read in increasing order.

        Raises:
          audio.AudioError: NaN or infinite samples, or a file changed since its header was read.
        """
        if self._up == self._down:  # the same rate: the piece's own frames
            block, start, stop = begin, begin, end
        else:  # a multiple of `down` frames in: output sample block * up is input frame start
            context = _context(self._up, self._down)
            block = max(0, (begin * self._down // self._up - context) // self._down)
            start = block * self._down
            stop = min(self._info["num_frames"], -(-end * self._down // self._up) + context)
        converted = audio.to_mono_at_rate(self._frames(start, stop), self._info["sample_rate"],
                                          self._target_rate)
        offset = block * self._up
        waveform = np.ascontiguousarray(converted[begin - offset:end - offset])
        self._sum += float(np.sum(waveform, dtype=np.float64))
        self._nonzero = self._nonzero or bool(np.any(waveform))
        return waveform

    def finish(self) -> tuple:
        """After the last piece: the whole-file channel check, then (mean sample, silent).

        Raises:
          audio.AudioError: the channels cancel out when mixed to mono (named).
        """
        if self._info["channels"] > 1:
            audio.refuse_cancelling_channels(self.path, self._info["channels"], *self._powers)
        return self._sum / max(self.length, 1), not self._nonzero

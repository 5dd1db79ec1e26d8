"""Preparation's feature stream: utterances in, their features out, in order, on every core.

Before it, `expected_lengths` checks every wav header and lists every unusable file at once;
after it, wavs with a DC offset and wavs of digital silence are warned of (`dc_offset_warning`,
`silence_warning`).

Each task reads a few wavs (`audio.read_wav`) and runs the one feature function on them at once
(`features.shard_features`: `concatenated_features` with the spectrograms cast to the shards'
float16 in the same graph). A small pool of Python threads runs tasks ahead of the consumer, which
writes the shards: TensorFlow releases the GIL while the function runs, so the tasks share the
cores with each other and with the consumer.

Why threads rather than a tf.data pipeline (BUILD.md "Preparation"): the pipeline spent 0.2-0.3 s
of one core tracing, optimising and instantiating itself before its first element, on every call
(an eighth of preparing the bench corpus), and kept 1.68-1.73 of 2 cores busy; the pool's first
element is ready in 0.02-0.03 s and it kept 1.87-1.90 busy (measured on the same 480 files).
"""

import collections
import concurrent.futures
import math
import os

import numpy as np
import tensorflow as tf

from mmtl_tf import audio
from mmtl_tf import config as config_lib
from mmtl_tf import corpora
from mmtl_tf import features
from mmtl_tf import wav_pieces

# The most segments one feature call computes. A call's frames, spectra and log powers grow with
# its segments: four 10-minute recordings (800 segments) in one call peaked at 3.26 GB resident
# (measured, paper features); four utterances of up to 48 s still share one call, as before.
MAX_SEGMENTS_PER_CALL = 64
# A wav whose mean sample exceeds this (full scale 1) is warned of (`dc_offset_warning`).
DC_OFFSET_WARNING = 0.002


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity (a container's or `taskset`'s share),
    not every core of the machine."""
    if hasattr(os, "sched_getaffinity"):
        return max(len(os.sched_getaffinity(0)), 1)
    return os.cpu_count() or 1


def call_ranges(count: int, utterances_per_call: int, call_starts=()) -> list:
    """[(start, stop)] of the feature calls over `count` utterances: `utterances_per_call` at a
    time, and a new call at each index of `call_starts`."""
    bounds = sorted({0, count, *(start for start in call_starts if 0 < start < count)})
    return [(start, min(start + utterances_per_call, end))
            for begin, end in zip(bounds, bounds[1:])
            for start in range(begin, end, utterances_per_call)]


def expected_samples(utterance: corpora.Utterance,
                      feature_config: config_lib.FeatureConfig) -> int:
    """Samples `audio.read_wav` will return, from the wav header alone.

    Args:
      utterance: the utterance whose wav is checked.
      feature_config: gives the target sample rate and the window length.

    Returns:
      The number of samples at `feature_config.sample_rate`.

    Raises:
      audio.AudioError: the wav is unusable, or shorter than one analysis window (named).
    """
    info = audio.inspect_wav(utterance.path)
    divisor = math.gcd(info["sample_rate"], feature_config.sample_rate)
    up, down = feature_config.sample_rate // divisor, info["sample_rate"] // divisor
    samples = -(-info["num_frames"] * up // down)  # resample_poly's output length, ceil(n*up/down)
    if samples < feature_config.window_samples:
        raise audio.AudioError(
            f"{utterance.path}: {info['num_frames'] / info['sample_rate']:.3f} s of audio is "
            f"shorter than one analysis window ({feature_config.window_ms} ms); remove "
            f"utterance {utterance.utterance_id} from the corpus")
    return samples


def expected_lengths(utterances, feature_config: config_lib.FeatureConfig,
                     listed: int = 20) -> dict:
    """{utterance id: `expected_samples`} of every utterance, checking every wav header.

    Raises:
      audio.AudioError: naming every unusable wav (the first `listed` of them, and how many
        more), so a corpus with several broken files is mended in one pass, not one per run.
    """
    lengths, problems = {}, []
    for utterance in utterances:
        try:
            lengths[utterance.utterance_id] = expected_samples(utterance, feature_config)
        except audio.AudioError as error:
            problems.append(str(error))
    if len(problems) == 1:
        raise audio.AudioError(problems[0])
    if problems:
        more = len(problems) - listed
        raise audio.AudioError(
            f"{len(problems)} of {len(utterances)} wavs cannot be used; mend or remove each of "
            f"them (in the corpus' CSV or folder) and prepare again:\n  "
            + "\n  ".join(problems[:listed]) + (f"\n  ... and {more} more" if more > 0 else ""))
    return lengths


def feature_stream(utterances: list, lengths: dict, feature_config: config_lib.FeatureConfig,
                   utterances_per_call: int = 4, workers: int = None, call_starts=(),
                   segments_per_call: int = MAX_SEGMENTS_PER_CALL, in_pieces: bool = True):
    """Yields (utterance, features as numpy) in the order of `utterances`.

    A segment's values can differ in the last bit with the utterances that share its call (the
    per-segment sums of `features` are split across threads by the size of the call), so a
    caller that must reproduce bytes fixes where calls start: `preparation` starts one at every
    unit, the step a killed preparation resumes from, so a resumed run makes the same calls.

    Args:
      utterances: the utterances, in the order to yield them.
      lengths: utterance id -> samples `audio.read_wav` returns (`expected_lengths`).
      feature_config: the analysis parameters.
      utterances_per_call: utterances per feature call, at most.
      workers: threads computing ahead of the consumer (default: one more than the cores this
        process may run on, `usable_cores`, so a core stays busy while a thread holds the GIL to
        read a wav). At most 2 * workers + 1
        tasks are ahead of the consumer (running, queued or done), which bounds the memory.
      call_starts: indices of `utterances` where a call must start (`call_ranges`).
      segments_per_call: the most segments one feature call computes; a task whose utterances
        hold more (long recordings) makes several calls, cutting an utterance longer than this
        at its segment boundaries (`_call_pieces`), so memory stays bounded.
      in_pieces: read such an utterance's wav one call's pieces at a time (`wav_pieces`), not
        whole; the features are the same to the bit (False: decode it whole, as before).

    Yields:
      (utterance, dict) with `spectrogram` float16 [segments, max_frames, num_bins] (the
      feature function's float32 values rounded as the shards store them), `num_frames` and
      `segment_index` [segments] (see `features.waveform_features`).

    Raises:
      audio.AudioError: a wav that cannot be read or decodes to another length than its header
        promised, raised when the stream reaches that utterance (the ones before it are yielded).
    """
    workers = workers or usable_cores() + 1
    compute = features.shard_features(feature_config)
    offsets = []  # (|mean sample|, path) of each wav read: its DC offset
    silent = []  # paths of the wavs that are digital silence

    def task(start: int, stop: int) -> list:
        batch = utterances[start:stop]
        waveforms = [_source(utterance, lengths, feature_config, segments_per_call, in_pieces)
                     for utterance in batch]
        parts = collections.defaultdict(list)  # position in batch -> [features of its pieces]
        for owners, cuts in _call_pieces(waveforms, feature_config.segment_samples,
                                         segments_per_call):
            pieces = [waveform.piece(begin, end) if isinstance(waveform, wav_pieces.WavPieces)
                      else waveform[begin:end] for waveform, begin, end in cuts]
            computed = compute(tf.constant(np.concatenate(pieces)),
                               tf.constant([len(piece) for piece in pieces], tf.int64))
            computed = {name: value.numpy() for name, value in computed.items()}
            rows = np.searchsorted(computed.pop("utterance_index"), np.arange(len(pieces) + 1))
            for index, owner in enumerate(owners):
                parts[owner].append({name: value[rows[index]:rows[index + 1]]
                                     for name, value in computed.items()})
        for utterance, waveform in zip(batch, waveforms):  # DC offset, digital silence
            mean, quiet = (waveform.finish() if isinstance(waveform, wav_pieces.WavPieces)
                           else (float(np.mean(waveform)), not np.any(waveform)))
            offsets.append((abs(mean), utterance.path))
            if quiet:
                silent.append(utterance.path)
        results = []
        for index, utterance in enumerate(batch):
            joined = {name: np.concatenate([part[name] for part in parts[index]])
                      for name in parts[index][0]}
            joined["segment_index"] = np.arange(len(joined["num_frames"]), dtype=np.int32)
            results.append((utterance, joined))
        return results

    pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="mmtl-features")
    waiting = collections.deque()
    try:
        for start, stop in call_ranges(len(utterances), utterances_per_call, call_starts):
            waiting.append(pool.submit(task, start, stop))
            if len(waiting) > 2 * workers:
                yield from waiting.popleft().result()
        while waiting:
            yield from waiting.popleft().result()
        for warning in (dc_offset_warning(offsets), silence_warning(silent, len(offsets))):
            if warning:
                print(warning)
    finally:  # also when the consumer stops early: queued tasks are dropped, not computed
        pool.shutdown(wait=True, cancel_futures=True)


def dc_offset_warning(offsets: list, threshold: float = DC_OFFSET_WARNING) -> str:
    """A warning naming how many wavs have a DC offset above `threshold`, or "".

    The features keep the 0-20 Hz bins and normalise each segment over all its bins, so an offset
    moves every value: 1% of full scale on a RAVDESS utterance moved the normalised spectrogram
    by 0.29 on average, 0.1% by 0.10 (BUILD.md "Features"). A recording chain's offset is no emotion.

    Args:
      offsets: [(|mean sample| in full scale, wav path)].
      threshold: the offset above which a wav is counted.
    """
    above = sorted((offset for offset in offsets if offset[0] > threshold), reverse=True)
    if not above:
        return ""
    largest, path = above[0]
    return (f"warning: {len(above)} of {len(offsets)} wavs have a DC offset above "
            f"{threshold:g} of full scale (largest {largest:.4f}, {path}); the features' low bins "
            f"and each segment's normalisation depend on it, so remove it from the wavs (e.g. "
            f"`sox in.wav out.wav highpass 10`) and prepare again")


def silence_warning(silent_paths: list, count: int) -> str:
    """A warning naming how many of `count` wavs are digital silence (a failed recording: all
    their segments are zeros, labelled as if they held speech), or ""."""
    if not silent_paths:
        return ""
    return (f"warning: {len(silent_paths)} of {count} wavs are digital silence (every sample 0; "
            f"first: {sorted(silent_paths)[0]}); their segments are all zeros under an emotion "
            f"label, so remove them from the corpus and prepare again")


def _call_pieces(waveforms: list, segment_samples: int, segments_per_call: int) -> list:
    """[(owners, cuts)]: the feature calls of a task, in order, each of at most
    `segments_per_call` segments. A cut (waveform, begin, end) is a whole waveform, or, for one of
    more segments than that, one of its segments (cut where `features.segment_lengths` cuts it,
    so a piece is one segment of exactly those samples); `owners` gives each cut's position in
    `waveforms`. Cuts are taken when their call runs, so a `WavPieces` reads one call at a time."""
    pieces = []
    for owner, waveform in enumerate(waveforms):
        count = -(-len(waveform) // segment_samples)
        if count <= segments_per_call:
            pieces.append((owner, (waveform, 0, len(waveform)), count))
            continue
        bounds = [index * len(waveform) // count for index in range(count + 1)]
        pieces.extend((owner, (waveform, begin, end), 1) for begin, end in zip(bounds, bounds[1:]))
    calls, current, held = [], [], 0
    for owner, cut, count in pieces:
        if current and held + count > segments_per_call:
            calls.append(current)
            current, held = [], 0
        current.append((owner, cut))
        held += count
    calls.append(current)
    return [([owner for owner, _ in call], [cut for _, cut in call]) for call in calls]


def _source(utterance, lengths: dict, feature_config, segments_per_call: int, in_pieces: bool):
    """The utterance's waveform (`_read`), or, for one cut into pieces (more segments than a call
    holds) when `in_pieces`, a `wav_pieces.WavPieces` that reads each piece when it is cut."""
    expected = lengths[utterance.utterance_id]
    if not in_pieces or -(-expected // feature_config.segment_samples) <= segments_per_call:
        return _read(utterance, lengths, feature_config)
    source = wav_pieces.WavPieces(utterance.path, feature_config.sample_rate)
    if len(source) != expected:
        raise audio.AudioError(f"{utterance.path}: holds {len(source)} samples, the header "
                               f"promised {expected} (changed since it was checked?)")
    return source


def _read(utterance, lengths: dict, feature_config) -> np.ndarray:
    """The utterance's waveform, checked against the length its wav header promised."""
    waveform = audio.read_wav(utterance.path, feature_config.sample_rate)
    if waveform.shape[0] != lengths[utterance.utterance_id]:
        raise audio.AudioError(f"{utterance.path}: decoded {waveform.shape[0]} samples, "
                               f"the header promised {lengths[utterance.utterance_id]}")
    return waveform

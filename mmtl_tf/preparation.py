"""Preparation: a corpus listing in, per-speaker spectrogram shards and manifest.json out.

`prepare_corpus` is the library step behind `python -m mmtl_tf.prepare`; training reads only
what it writes. It is idempotent and checked, like SpeechBrain's `prepare_data`:

1. Every wav header is checked up front (`audio.inspect_wav`), and audio shorter than one
   analysis window is rejected, naming the file, before any TensorFlow work.
2. A speaker whose `<speaker>.done.json` hash (feature config, corpus, class names, shard size
   and the speaker's utterance ids, paths, lengths and labels) matches, and whose shards are
   all present with their recorded sizes, is skipped. The others are recomputed.
3. One tf.data pipeline over the remaining utterances (speaker by speaker, order preserved)
   loads audio with `audio.read_wav` and runs the one feature function,
   `features.waveform_features`, on each utterance (a batch of one); both maps run in parallel.
4. Each speaker's segments go to temporary shard files that are renamed into place when the
   speaker is complete; then its done-file is written; `manifest.json` comes last. The old
   manifest is removed first, so a killed run never leaves a manifest or a done-file describing
   incomplete data, and rerunning completes it with the same bytes as an uninterrupted run.

Histograms count segments (what training sees); a missing V/A/D label (-1) is not counted.
One process at a time may prepare into a directory.
"""

import collections
import hashlib
import itertools
import json
import math
import os
import re
import time

import keras
import numpy as np
import tensorflow as tf

from mmtl_tf import audio
from mmtl_tf import config as config_lib
from mmtl_tf import corpora
from mmtl_tf import features
from mmtl_tf import tfrecords

_SAFE_SPEAKER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_NUM_BINS_VAD = 4


def _check_listing(listing: corpora.CorpusListing) -> None:
    """Rejects an empty listing, repeated ids, bad speaker ids or sessions, out-of-range labels."""
    if not listing.utterances:
        raise corpora.CorpusError(f"corpus {listing.corpus}: no utterance was kept (excluded: "
                                  f"{dict(listing.excluded)}); check the corpus path and flags")
    seen, sessions = set(), {}
    for utterance in listing.utterances:
        if utterance.utterance_id in seen:
            raise corpora.CorpusError(f"utterance id {utterance.utterance_id!r} is listed twice")
        seen.add(utterance.utterance_id)
        if sessions.setdefault(utterance.speaker, utterance.session) != utterance.session:
            raise corpora.CorpusError(f"{utterance.utterance_id}: speaker {utterance.speaker} is "
                                      f"in sessions {sessions[utterance.speaker]} and "
                                      f"{utterance.session}; a speaker belongs to one session")
        if not _SAFE_SPEAKER.match(utterance.speaker):
            raise corpora.CorpusError(f"{utterance.utterance_id}: speaker id {utterance.speaker!r} "
                                      f"must be letters, digits, '_', '.' or '-' (it names files)")
        if not 0 <= utterance.emotion < len(listing.class_names):
            raise corpora.CorpusError(f"{utterance.utterance_id}: emotion {utterance.emotion} is "
                                      f"not an index into {list(listing.class_names)}")
        for task in corpora.AUX_TASKS:
            if not corpora.MISSING_LABEL <= getattr(utterance, task) < _NUM_BINS_VAD:
                raise corpora.CorpusError(f"{utterance.utterance_id}: {task} bin "
                                          f"{getattr(utterance, task)} is outside -1..3")


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


def _speaker_hash(listing, utterances, lengths, feature_config, segments_per_shard) -> str:
    """Digest of everything a speaker's shards depend on."""
    payload = {
        "format_version": tfrecords.FORMAT_VERSION, "corpus": listing.corpus,
        "class_names": list(listing.class_names), "feature_config": feature_config.to_dict(),
        "segments_per_shard": segments_per_shard,
        "utterances": sorted([u.utterance_id, u.path, u.session, u.emotion, u.valence, u.arousal,
                              u.dominance, lengths[u.utterance_id]] for u in utterances),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()


def _finished_entry(output_dir: str, speaker: str, digest: str):
    """The manifest entry from a matching done-file whose shards are intact, else None."""
    try:
        with open(os.path.join(output_dir, f"{speaker}.done.json"), encoding="utf-8") as handle:
            done = json.load(handle)
        if done["hash"] != digest:
            return None
        for name, size in done["shard_bytes"].items():
            if os.path.getsize(os.path.join(output_dir, name)) != size:
                return None
        return done["entry"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _remove_speaker_files(output_dir: str, speaker: str) -> None:
    """Deletes a speaker's done-file, shards and leftover temporary shards."""
    pattern = re.compile(rf"^{re.escape(speaker)}(-\d{{5}}-of-\d{{5}}\.tfrecord(\.tmp-\d+)?"
                         rf"|\.done\.json(\.tmp-\d+)?)$")
    for name in sorted(os.listdir(output_dir)):
        if pattern.match(name):
            os.remove(os.path.join(output_dir, name))


def feature_stream(utterances: list, lengths: dict, feature_config: config_lib.FeatureConfig,
                   utterances_per_call: int = 8):
    """Yields (utterance, features as numpy) in order; loading and features run in tf.data.

    Wavs are read in parallel (`audio.read_wav`); each call of the one feature function,
    `features.concatenated_features`, takes `utterances_per_call` of them at once, and two calls
    run at a time, so both cores stay busy while the consumer writes.

    Args:
      utterances: the utterances, in the order to yield them.
      lengths: utterance id -> samples `audio.read_wav` returns (`expected_samples`).
      feature_config: the analysis parameters.
      utterances_per_call: utterances per feature call (the results do not depend on it).

    Yields:
      (utterance, dict) with `spectrogram` [segments, max_frames, num_bins], `num_frames` and
      `segment_index` [segments] (see `features.waveform_features`).

    Raises:
      audio.AudioError: a wav that cannot be read or decodes to another length than its header.
    """
    failures = {}  # index -> exception; raised by the consumer, not through TensorFlow

    def load(index):
        utterance = utterances[int(index)]
        try:
            waveform = audio.read_wav(utterance.path, feature_config.sample_rate)
            if waveform.shape[0] != lengths[utterance.utterance_id]:
                raise audio.AudioError(f"{utterance.path}: decoded {waveform.shape[0]} samples, "
                                       f"the header promised {lengths[utterance.utterance_id]}")
            return waveform
        except Exception as error:  # pylint: disable=broad-except; re-raised in order below
            failures[int(index)] = error
            return np.zeros([feature_config.window_samples], np.float32)  # never written

    def compute(waveforms):
        computed = features.concatenated_features(waveforms.flat_values, waveforms.row_lengths(),
                                                  feature_config)
        return {name: computed[name] for name in ("spectrogram", "num_frames", "segment_index",
                                                   "utterance_index")}

    def load_in_graph(index):  # stateless, so it stays parallel under op determinism
        return tf.ensure_shape(tf.numpy_function(load, [index], tf.float32, stateful=False), [None])

    dataset = tf.data.Dataset.range(len(utterances)).map(
        load_in_graph, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    dataset = dataset.ragged_batch(utterances_per_call).map(
        compute, num_parallel_calls=2, deterministic=True).prefetch(1)
    position = 0
    for computed in dataset:
        computed = {name: value.numpy() for name, value in computed.items()}
        rows = np.searchsorted(computed.pop("utterance_index"),
                               np.arange(min(utterances_per_call, len(utterances) - position) + 1))
        for index in range(len(rows) - 1):
            if position in failures:
                raise failures[position]
            yield utterances[position], {name: value[rows[index]:rows[index + 1]]
                                         for name, value in computed.items()}
            position += 1


def _write_speaker(output_dir, speaker, stream, num_segments, segments_per_shard, num_classes):
    """Writes one speaker's shards from its part of the stream; returns (entry, shard sizes)."""
    count = max(1, math.ceil(num_segments / segments_per_shard))
    names = [tfrecords.shard_name(speaker, index, count) for index in range(count)]
    histograms = {"emotion": [0] * num_classes}
    histograms.update({task: [0] * _NUM_BINS_VAD for task in corpora.AUX_TASKS})
    written, utterance_count, session, writer = 0, 0, None, None
    try:
        for utterance, computed in stream:
            utterance_count, session = utterance_count + 1, utterance.session
            for row, segment_index in enumerate(computed["segment_index"]):
                if written % segments_per_shard == 0:
                    if writer is not None:
                        writer.close()
                    shard = min(written // segments_per_shard, count - 1)
                    writer = tf.io.TFRecordWriter(
                        tfrecords.temporary_path(os.path.join(output_dir, names[shard])))
                writer.write(tfrecords.serialize_segment(
                    utterance, int(segment_index), computed["spectrogram"][row],
                    int(computed["num_frames"][row])))
                written += 1
                histograms["emotion"][utterance.emotion] += 1
                for task in corpora.AUX_TASKS:
                    if getattr(utterance, task) != corpora.MISSING_LABEL:
                        histograms[task][getattr(utterance, task)] += 1
    finally:
        if writer is not None:
            writer.close()
    if written != num_segments:
        raise RuntimeError(f"speaker {speaker}: wrote {written} segments, expected "
                           f"{num_segments} from the wav headers")
    sizes = {}
    for name in names:
        path = os.path.join(output_dir, name)
        os.replace(tfrecords.temporary_path(path), path)
        sizes[name] = os.path.getsize(path)
    entry = {"session": session, "shards": names, "num_segments": written,
             "num_utterances": utterance_count, "histograms": histograms}
    return entry, sizes


def _print_summary(manifest: dict, output_dir: str, seconds: float, computed: int) -> None:
    """Prints utterances and segments per speaker and emotion class, and the exclusions."""
    speakers = manifest["speakers"]
    header = ["speaker", "session", "utterances", "segments", *manifest["class_names"]]
    rows = [[speaker, entry["session"], entry["num_utterances"], entry["num_segments"],
             *entry["histograms"]["emotion"]] for speaker, entry in speakers.items()]
    class_totals = [sum(counts) for counts in
                    zip(*(entry["histograms"]["emotion"] for entry in speakers.values()))]
    rows.append(["total", "", manifest["totals"]["utterances"], manifest["totals"]["segments"],
                 *class_totals])
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    print(f"\ncorpus: {manifest['corpus']} -> {output_dir} (segments per emotion class)")
    for row in [header, *rows]:
        print("  ".join(f"{cell!s:{'<' if column < 2 else '>'}{width}}"
                        for column, (cell, width) in enumerate(zip(row, widths))))
    excluded = ", ".join(f"{reason}: {n}" for reason, n in manifest["excluded"].items())
    print(f"excluded: {excluded or 'none'}; missing files: {len(manifest['missing_files'])}")
    print(f"aux labels available: {manifest['aux_available']}")
    if computed:
        print(f"computed {computed} utterances in {seconds:.1f} s "
              f"({computed / max(seconds, 1e-9):.1f} utterances/s)")


def prepare_corpus(listing: corpora.CorpusListing, feature_config: config_lib.FeatureConfig,
                   output_dir: str, segments_per_shard: int = 2000,
                   show_progress: bool = True) -> dict:
    """Computes features for every utterance of `listing` and writes shards and manifest.json.

    Args:
      listing: the corpus reader's output.
      feature_config: the analysis parameters (stored in the manifest).
      output_dir: where shards, done-files and manifest.json go (created if needed).
      segments_per_shard: maximum segments per shard file.
      show_progress: draw a progress bar over utterances.

    Returns:
      The manifest dict, as written to `output_dir/manifest.json`.

    Raises:
      corpora.CorpusError: empty listing, bad speaker id or label.
      audio.AudioError: a wav that cannot be used (named), including audio shorter than a window.
    """
    if segments_per_shard < 1:
        raise ValueError(f"segments_per_shard must be >= 1, got {segments_per_shard}")
    _check_listing(listing)
    os.makedirs(output_dir, exist_ok=True)
    manifest_path = os.path.join(output_dir, tfrecords.MANIFEST_NAME)
    if os.path.exists(manifest_path):
        os.remove(manifest_path)
    lengths = {u.utterance_id: expected_samples(u, feature_config) for u in listing.utterances}
    by_speaker = collections.defaultdict(list)
    for utterance in listing.utterances:
        by_speaker[utterance.speaker].append(utterance)

    entries, pending, digests = {}, [], {}
    for speaker in sorted(by_speaker):
        digests[speaker] = _speaker_hash(listing, by_speaker[speaker], lengths, feature_config,
                                         segments_per_shard)
        entries[speaker] = _finished_entry(output_dir, speaker, digests[speaker])
        if entries[speaker] is None:
            pending.append(speaker)
        else:
            print(f"speaker {speaker}: already prepared with these settings "
                  f"({speaker}.done.json), skipped")
    todo = [u for speaker in pending for u in by_speaker[speaker]]
    progress = None
    if show_progress and todo:
        progress = keras.utils.Progbar(len(todo), unit_name="utterance")
    start = time.time()
    stream = feature_stream(todo, lengths, feature_config)
    for speaker, items in itertools.groupby(stream, key=lambda item: item[0].speaker):
        _remove_speaker_files(output_dir, speaker)
        if progress is not None:
            items = _ticking(items, progress)
        expected = sum(-(-lengths[u.utterance_id] // feature_config.segment_samples)
                       for u in by_speaker[speaker])
        entries[speaker], sizes = _write_speaker(output_dir, speaker, items, expected,
                                                 segments_per_shard, len(listing.class_names))
        tfrecords.write_json(os.path.join(output_dir, f"{speaker}.done.json"),
                             {"hash": digests[speaker], "shard_bytes": sizes,
                              "entry": entries[speaker]})
    seconds = time.time() - start

    speakers = {speaker: entries[speaker] for speaker in sorted(by_speaker)}
    total_utterances = sum(entry["num_utterances"] for entry in speakers.values())
    if total_utterances != len(listing.utterances):
        raise RuntimeError(f"wrote {total_utterances} utterances, the listing has "
                           f"{len(listing.utterances)}")
    total_segments = sum(entry["num_segments"] for entry in speakers.values())
    manifest = {
        "format_version": tfrecords.FORMAT_VERSION,
        "corpus": listing.corpus,
        "feature_config": feature_config.to_dict(),
        "class_names": list(listing.class_names),
        "aux_tasks": list(corpora.AUX_TASKS),
        "aux_available": {task: sum(sum(e["histograms"][task]) for e in speakers.values())
                          == total_segments for task in corpora.AUX_TASKS},
        "speakers": speakers,
        "excluded": dict(sorted(listing.excluded.items())),
        "missing_files": list(listing.missing_files),
        "totals": {"utterances": total_utterances, "segments": total_segments},
    }
    tfrecords.write_manifest(output_dir, manifest)
    _print_summary(manifest, output_dir, seconds, len(todo))
    return manifest


def _ticking(items, progress):
    """Passes `items` through, advancing `progress` by one per item."""
    for item in items:
        yield item
        progress.add(1)

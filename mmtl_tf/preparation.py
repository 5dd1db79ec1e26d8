"""Preparation: a corpus listing in, per-speaker spectrogram shards and manifest.json out.

`prepare_corpus` is the library step behind `python -m mmtl_tf.prepare`; training reads only
what it writes. It is idempotent, checked and transactional, like SpeechBrain's `prepare_data`:

1. The listing (ids, speakers, labels; `corpora.check_listing`) and every wav header
   (`audio.inspect_wav`) are checked before anything is written; audio shorter than one
   analysis window is rejected, naming the file. Every unusable wav is listed in one error
   (`preparation_stream.expected_lengths`), not only the first.
2. The directory is locked (`tfrecord_dir.lock`). A committed preparation with other feature
   settings, corpus, classes, source (the CSV file or corpus folder) or label flags
   (`labelling`: --merge_excited, --csv_vad_bin_edges, ...) is refused, naming the
   differences, unless `overwrite`.
3. A speaker whose digest (feature config, corpus, class names, shard size and the speaker's
   utterance ids, paths, wav sizes and modification times, lengths and labels) a done-record
   holds, and whose shards all have their recorded sizes, is reused: from the staging folder of
   an unfinished prepare, or hard-linked from the committed generation. The others are
   recomputed into staging. Each manifest entry carries its speaker's digest (runs record
   those of their fold, so a resume on re-prepared data is refused: `run_dir`).
4. The remaining utterances (speaker by speaker, order preserved) are read and go through the
   one feature function a few at a time, on a small pool of threads that keeps every core busy
   (`preparation_stream.feature_stream`); the spectrograms come out as the shards' float16. A
   unit (step 5) starts a call of its own, so a resumed run makes the calls, and the bytes, of
   an uninterrupted one (a segment's last bit can depend on the utterances sharing its call).
5. The speakers to compute are grouped into units (`shard_writer.pack_units`): small speakers share one
   shard file, a large one has its own (one file per speaker made preparing thousands of small
   speakers cost a file creation each, issue 17.3). Each unit's segments go to temporary shard
   files renamed into place when the unit is complete, then its done-record
   (`<first speaker>.done.json`) is written. When every unit is staged, `tfrecord_dir.commit`
   swaps the new generation in with one atomic write of manifest.json.

So a failure or a kill never touches the committed preparation, and rerunning completes an
interrupted one with the same bytes as an uninterrupted run. Histograms count segments (what
training sees); a missing V/A/D label (-1) is not counted.
"""

import collections
import hashlib
import itertools
import json
import os
import time

import keras

from mmtl_tf import atomic_files
from mmtl_tf import config as config_lib
from mmtl_tf import corpora
from mmtl_tf import done_records
from mmtl_tf import labels
from mmtl_tf import preparation_stream
from mmtl_tf import preparation_summary
from mmtl_tf import shard_writer
from mmtl_tf import tfrecord_dir
from mmtl_tf import tfrecords


def _speaker_hashes(listing, utterances, lengths, feature_dict, segments_per_shard) -> tuple:
    """(shards, data): digests of everything a speaker's shards depend on, and of its data alone
    (the same without the shard size, a matter of layout); `feature_dict` is the FeatureConfig's
    `to_dict()`, made once for all speakers.

    A wav stands in by its path, size and modification time (as `make` and `rsync` judge a
    file), so audio edited in place (denoised, repaired, gain-normalised) is recomputed even
    when its length is unchanged; a copy that does not keep the times is recomputed too.
    """
    def wav_stamp(path):
        status = os.stat(path)
        return [status.st_size, status.st_mtime_ns]

    def digest(payload):
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()

    data = {
        "format_version": tfrecords.RECORD_VERSION, "corpus": listing.corpus,
        "class_names": list(listing.class_names), "feature_config": feature_dict,
        "utterances": sorted([u.utterance_id, u.path, wav_stamp(u.path), u.session, u.emotion,
                              u.valence, u.arousal, u.dominance, lengths[u.utterance_id]]
                             for u in utterances),
    }
    return digest({**data, "segments_per_shard": segments_per_shard}), digest(data)


def _refuse_other_settings(output_dir, committed, listing, feature_config, source,
                           labelling) -> None:
    """Raises TfrecordDirError if the committed preparation has other features, corpus or classes,
    was read from another source (where both record one: two CSV files of the same name are
    the same corpus name, and so the same default --tfrecord_dir), or labels it with other
    label flags (where both record them: `--merge_excited` would re-label its utterances)."""
    def settings(corpus, class_names, feature_dict, read_from, labels_by):
        compared = {"corpus": corpus, "class_names": list(class_names), **feature_dict}
        if source and committed.get("source"):
            compared["source"] = read_from
        if labelling and committed.get("labelling"):
            compared.update({f"--{name}": value for name, value in labels_by.items()})
        return compared

    differences = config_lib.describe_mismatch(
        settings(listing.corpus, listing.class_names, feature_config.to_dict(), source,
                 labelling or {}),
        settings(committed["corpus"], committed["class_names"], committed["feature_config"],
                 committed.get("source"), committed.get("labelling") or {}))
    if differences:
        raise tfrecord_dir.TfrecordDirError(
            f"{output_dir} holds a preparation with other settings ({'; '.join(differences)}). "
            f"Prepare into another --tfrecord_dir, or pass --overwrite to replace it (it stays "
            f"in place until the new one is complete).")


def _build_manifest(listing, feature_config, generation: str, entries: dict, digests: dict,
                    source, labelling=None) -> dict:
    """The manifest of a preparation whose speakers' entries are `entries`; each entry also
    carries its speaker's data digest (`digests`, layout left out), so a run can tell when its
    speakers' data changed, and not when only the shard size did."""
    speakers = {speaker: {**entries[speaker], "digest": digests[speaker]}
                for speaker in sorted(entries)}
    total_utterances = sum(entry["num_utterances"] for entry in speakers.values())
    if total_utterances != len(listing.utterances):
        raise RuntimeError(f"wrote {total_utterances} utterances, the listing has "
                           f"{len(listing.utterances)}")
    total_segments = sum(entry["num_segments"] for entry in speakers.values())
    return {
        "format_version": tfrecords.FORMAT_VERSION,
        "corpus": listing.corpus,
        "source": source,
        "labelling": labelling,
        "feature_config": feature_config.to_dict(),
        "class_names": list(listing.class_names),
        "generation": generation,
        "aux_tasks": list(labels.AUX_TASKS),
        # A task is available when any segment has its label (a CSV corpus may leave some
        # ratings out, --csv_missing_vad; those segments weigh 0 in the task's loss).
        "aux_available": {task: rated > 0 for task, rated
                          in preparation_summary.rated_segments(speakers).items()},
        "speakers": speakers,
        "excluded": dict(sorted(listing.excluded.items())),
        "missing_files": list(listing.missing_files),
        "totals": {"utterances": total_utterances, "segments": total_segments},
    }


def prepare_corpus(listing: corpora.CorpusListing, feature_config: config_lib.FeatureConfig,
                   output_dir: str, segments_per_shard: int = 2000, show_progress: bool = True,
                   overwrite: bool = False, prepare_flags: str = None, source: str = None,
                   labelling: dict = None) -> dict:
    """Computes features for every utterance of `listing` and commits shards and manifest.json.

    Args:
      listing: the corpus reader's output.
      feature_config: the analysis parameters (stored in the manifest).
      output_dir: the prepared directory (`tfrecord_dir` describes its layout); created if needed.
      segments_per_shard: maximum segments per shard file.
      show_progress: draw a progress bar over utterances.
      overwrite: replace a committed preparation made with other feature settings, corpus,
        classes or source (otherwise refused).
      prepare_flags: the resolved flags, stored as prepare_flags.txt in the new generation
        (None: not recorded).
      source: where the listing was read from (the CSV file or the corpus folder, absolute),
        recorded in the manifest; a committed preparation of another source is refused like
        other settings (None: not recorded, not compared).
      labelling: {label flag: value} the listing was labelled with (`label_flags.labelling`),
        recorded in the manifest; a committed preparation labelled otherwise is refused like
        other settings, naming the flag (None: not recorded, not compared).

    Returns:
      The manifest dict, as committed to `output_dir/manifest.json`.

    Raises:
      corpora.CorpusError: empty listing, bad speaker id or label.
      audio.AudioError: a wav that cannot be used (named), including audio shorter than a window.
      tfrecord_dir.TfrecordDirError: the directory is not usable or holds other settings.
      directory_lock.DirectoryInUseError: another prepare is writing into the directory.
    """
    if segments_per_shard < 1:
        raise ValueError(f"segments_per_shard must be >= 1, got {segments_per_shard}")
    corpora.check_listing(listing)
    lengths = preparation_stream.expected_lengths(listing.utterances, feature_config)
    by_speaker = collections.defaultdict(list)
    for utterance in listing.utterances:
        by_speaker[utterance.speaker].append(utterance)
    feature_dict = feature_config.to_dict()
    hashes = {speaker: _speaker_hashes(listing, utterances, lengths, feature_dict,
                                       segments_per_shard)
              for speaker, utterances in by_speaker.items()}
    digests = {speaker: shards for speaker, (shards, _) in hashes.items()}
    data_digests = {speaker: data for speaker, (_, data) in hashes.items()}
    with tfrecord_dir.lock(output_dir):
        committed = tfrecord_dir.read_committed(output_dir)
        if committed is not None and not overwrite:
            _refuse_other_settings(output_dir, committed, listing, feature_config, source,
                                   labelling)
        staging = tfrecord_dir.leftover_staging(output_dir, committed)
        sources = [staging] if staging else []
        if committed is not None:
            sources.append(committed.get("generation", ""))
        found = _finished_speakers(output_dir, sources, digests)  # {speaker: (source, entry, record)}
        entries = {speaker: entry for speaker, (_, entry, _) in found.items()}
        pending = [speaker for speaker in sorted(by_speaker) if speaker not in entries]
        if (not pending and staging is None and committed is not None
                and tfrecord_dir.is_committed(output_dir, committed, _build_manifest(
                    listing, feature_config, committed.get("generation"), entries,
                    data_digests, source, labelling), prepare_flags)):
            tfrecord_dir.remove_garbage(output_dir, committed)  # of a commit killed midway
            preparation_summary.print_summary(committed, output_dir, 0.0, 0)
            return committed

        staging = staging or tfrecord_dir.new_staging(output_dir, committed)
        folder = os.path.join(output_dir, staging)
        reused = {(generation, name) for generation, entry, record in found.values()
                  if generation != staging
                  for name in entry["shards"] + [record]}
        for generation, name in sorted(reused):  # from the committed one: linked into staging
            tfrecord_dir.link_or_copy(os.path.join(output_dir, generation, name),
                                      os.path.join(folder, name))
        todo = [u for speaker in pending for u in by_speaker[speaker]]
        start = time.time()
        entries.update(_compute_speakers(folder, todo, lengths, feature_config,
                                         segments_per_shard, len(listing.class_names), digests,
                                         show_progress))
        seconds = time.time() - start
        flags_path = os.path.join(folder, tfrecord_dir.PREPARE_FLAGS_NAME)
        if prepare_flags is not None:
            atomic_files.write_text(flags_path, prepare_flags)
        elif os.path.exists(flags_path):  # staged by another invocation: not these flags
            os.remove(flags_path)
        manifest = _build_manifest(listing, feature_config, staging, entries, data_digests,
                                   source, labelling)
        tfrecord_dir.commit(output_dir, manifest, committed)
    preparation_summary.print_summary(manifest, output_dir, seconds, len(todo))
    return manifest


def _finished_speakers(output_dir: str, sources, digests: dict) -> dict:
    """{speaker: (generation folder, entry, done-record name)} of the speakers a source holds.

    A unit's files are named after its first speaker, and recomputing a speaker starts by
    removing the files named after it (`done_records.remove_speakers_files`): a finished speaker
    stored in such a file is recomputed too (with a changed first speaker, its whole unit).
    Files of a later source are linked into staging under their own names, so a speaker whose
    file has the name of a file an earlier source's speaker keeps (the staged unit of a grown
    speaker, say) is recomputed too, rather than linked over it.
    """
    found = {}
    for source in sources:
        remaining = {speaker: digest for speaker, digest in digests.items() if speaker not in found}
        for speaker, (entry, record) in done_records.finished_speakers(
                os.path.join(output_dir, source), remaining).items():
            found[speaker] = (source, entry, record)
    rank = {source: index for index, source in enumerate(sources)}
    while True:
        pending = set(digests) - set(found)
        claimed = {}  # file name -> the rank of the first source whose speakers keep it
        for source, entry, record in found.values():
            for name in entry["shards"] + [record]:
                claimed[name] = min(claimed.get(name, rank[source]), rank[source])
        clashing = [speaker for speaker, (source, entry, record) in found.items()
                    if any(done_records.file_speaker(name) in pending
                           or claimed[name] < rank[source]
                           for name in entry["shards"] + [record])]
        if not clashing:
            break
        for speaker in clashing:
            del found[speaker]
    for speaker in sorted(found):
        source, _, record = found[speaker]
        print(f"speaker {speaker}: already prepared with these settings "
              f"({os.path.join(source, record)}), skipped")
    return found


def _compute_speakers(folder, todo, lengths, feature_config, segments_per_shard, num_classes,
                      digests, show_progress) -> dict:
    """Computes the utterances `todo` (sorted by speaker) into `folder`, unit by unit
    (`shard_writer.pack_units`); {speaker: entry}."""
    progress = None
    if show_progress and todo:
        progress = keras.utils.Progbar(len(todo), unit_name="utterance")
    segments = collections.Counter()
    for utterance in todo:
        segments[utterance.speaker] += -(-lengths[utterance.utterance_id]
                                         // feature_config.segment_samples)
    units = {unit[0]: unit for unit in shard_writer.pack_units(segments, segments_per_shard)}
    head_of = {speaker: head for head, unit in units.items() for speaker in unit}
    entries = {}
    # What a killed run left of these speakers goes before any of them is written, so no old
    # done-record can vouch for a half-written speaker.
    done_records.remove_speakers_files(folder, segments)
    unit_starts = [index for index, utterance in enumerate(todo)
                   if index and head_of[utterance.speaker] != head_of[todo[index - 1].speaker]]
    stream = preparation_stream.feature_stream(todo, lengths, feature_config,
                                               call_starts=unit_starts)
    with atomic_files.EarlySync() as syncer:
        for head, items in itertools.groupby(stream, key=lambda item: head_of[item[0].speaker]):
            if progress is not None:
                items = _ticking(items, progress)
            entries.update(shard_writer.write_unit(folder, units[head], items, segments,
                                                   segments_per_shard, num_classes, digests,
                                                   syncer))
    return entries


def _ticking(items, progress):
    """Passes `items` through, advancing `progress` by one per item."""
    for item in items:
        yield item
        progress.add(1)

"""Writing prepared segments into shard files: speakers grouped into units, one done-record each.

`pack_units` groups consecutive speakers (sorted) until their segments fill a shard
(`--segments_per_shard`); a larger speaker is a unit of its own over several shards. A corpus of
thousands of small speakers is then a few files, not two per speaker: creating a file costs
about 1 ms on a plain disk and far more on network storage (issue 17.3). `write_unit` writes one
unit's part of the feature stream (`preparation_stream.feature_stream`) into temporary shard files,
renames them into place when the unit is complete, then writes the unit's done-record
(`done_records.write_done`); each speaker's manifest entry names its run of records in each
shard (`shard_records`, read by `shard_reader.speaker_record_runs`).
"""

import math
import os

import tensorflow as tf

from mmtl_tf import atomic_files
from mmtl_tf import done_records
from mmtl_tf import labels
from mmtl_tf import tfrecords


def pack_units(segments: dict, segments_per_shard: int) -> list:
    """Speakers (in sorted order) grouped into the units that share shard files.

    A unit takes the next speakers while their segments fit in one shard; a speaker with more
    segments than a shard holds is a unit of its own, spread over several shards. The grouping
    restarts at every unit, so the speakers left after an interrupted prepare are grouped as
    the uninterrupted prepare grouped them.

    Args:
      segments: speaker -> its number of segments.
      segments_per_shard: records per shard file.

    Returns:
      A list of units, each a list of speakers; the first names the unit's files.
    """
    units, total = [], 0
    for speaker in sorted(segments):
        if units and total + segments[speaker] <= segments_per_shard:
            units[-1].append(speaker)
            total += segments[speaker]
        else:
            units.append([speaker])
            total = segments[speaker]
    return units


def write_unit(folder, unit, stream, segments, segments_per_shard, num_classes, digests,
                syncer):
    """Writes the shards of one unit of speakers from its part of the stream, then its done-file.

    Args:
      folder: the staging folder.
      unit: the unit's speakers, in stream order (`pack_units`).
      stream: (utterance, features) of exactly these speakers' utterances, in order.
      segments: speaker -> expected segments (from the wav headers).
      segments_per_shard, num_classes: as in `prepare_corpus`.
      digests: speaker -> digest (`preparation`'s speaker hash).
      syncer: an `atomic_files.EarlySync` that starts the shards on their way to disk.

    Returns:
      {speaker: manifest entry with `shard_bytes`}.
    """
    total = sum(segments[speaker] for speaker in unit)
    count = max(1, math.ceil(total / segments_per_shard))
    names = [tfrecords.shard_name(unit[0], index, count) for index in range(count)]
    entries = {speaker: {"session": None, "shards": [], "shard_records": [],
                         "num_segments": 0, "num_utterances": 0,
                         "histograms": {"emotion": [0] * num_classes,
                                        **{task: [0] * labels.NUM_VAD_BINS
                                           for task in labels.AUX_TASKS}}}
               for speaker in unit}
    written, shard, writer, temporary = 0, -1, None, None
    try:
        for utterance, computed in stream:
            entry = entries[utterance.speaker]
            entry["num_utterances"] += 1
            entry["session"] = utterance.session
            for row, segment_index in enumerate(computed["segment_index"]):
                if min(written // segments_per_shard, count - 1) != shard:
                    if writer is not None:
                        writer.close()
                    shard += 1
                    temporary = atomic_files.temporary_path(os.path.join(folder, names[shard]))
                    writer = tf.io.TFRecordWriter(temporary)
                if not entry["shards"] or entry["shards"][-1] != names[shard]:
                    entry["shards"].append(names[shard])
                    entry["shard_records"].append([written - shard * segments_per_shard, 0])
                record = tfrecords.serialize_segment(utterance, int(segment_index),
                                                     computed["spectrogram"][row],
                                                     int(computed["num_frames"][row]))
                writer.write(record)
                syncer.wrote(temporary, len(record), writer.flush)
                written += 1
                entry["shard_records"][-1][1] += 1
                entry["num_segments"] += 1
                entry["histograms"]["emotion"][utterance.emotion] += 1
                for task in labels.AUX_TASKS:
                    if getattr(utterance, task) != labels.MISSING_LABEL:
                        entry["histograms"][task][getattr(utterance, task)] += 1
    finally:
        if writer is not None:
            writer.close()
    for speaker, entry in entries.items():
        if entry["num_segments"] != segments[speaker]:
            raise RuntimeError(f"speaker {speaker}: wrote {entry['num_segments']} segments, "
                               f"expected {segments[speaker]} from the wav headers")
    sizes = {}
    for name in names:
        path = os.path.join(folder, name)
        os.replace(atomic_files.temporary_path(path), path)
        sizes[name] = os.path.getsize(path)
        syncer.sync(path)
    return done_records.write_done(folder, unit[0], {speaker: (digests[speaker], entry)
                                                     for speaker, entry in entries.items()},
                                   sizes)

"""Evaluation's read of one speaker from a shared shard: from the shard's start, or by offset.

    python evidence/mend-2026-12/shared_shard_eval_read.py DIR [SPEAKERS SEGMENTS]

Writes (once) one shard of SPEAKERS x SEGMENTS random paper-feature records (120 KB each; 100 x 20
= 2,000 records, 240 MB: a full `--segments_per_shard` unit of small speakers) with its manifest,
then reads the first and the last speaker 7 times each, warm (page cache) and cold (the shard
evicted with posix_fadvise, the header scan's cache cleared), two ways:
  skip:   as `episodes.speaker_segments` read before (`TFRecordDataset(path).skip(first)`);
  offset: `episodes.speaker_segments` now: the header scan (`shard_reader.record_offsets`), then
          `shard_reader.read_records` of the speaker's own records only.
Prints the median and minimum seconds of each, and whether the two read the same arrays.
"""

import os
import sys
import time

import numpy as np
import tensorflow as tf

from mmtl_tf import atomic_files, corpora, episodes, labels, shard_reader, tfrecord_dir, tfrecords
from mmtl_tf import config as config_lib


def write_corpus(directory, speakers_count, per, feature_config):
    """One shard holding every speaker's run, and a format-2 manifest naming the runs."""
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(0)
    pool = rng.standard_normal((32, feature_config.max_frames, feature_config.num_bins),
                               dtype=np.float32).astype(np.float16)
    name, speakers = tfrecords.shard_name("s000F", 0, 1), {}
    with tf.io.TFRecordWriter(os.path.join(directory, name)) as writer:
        for index in range(speakers_count):
            speaker, session = f"s{index:03d}{'FM'[index % 2]}", str(index // 2 + 1)
            drawn = rng.integers(0, 4, (per, 4))
            for row, values in enumerate(drawn):
                utterance = corpora.Utterance(f"{speaker}_{row // 2:04d}", "", speaker, session,
                                              *map(int, values))
                writer.write(tfrecords.serialize_segment(utterance, row % 2, pool[row % 32], 297))
            speakers[speaker] = {"session": session, "shards": [name],
                                 "shard_records": [[index * per, per]], "num_segments": per,
                                 "num_utterances": per // 2, "histograms": {
                                     task: np.bincount(drawn[:, column], minlength=4).tolist()
                                     for column, task in enumerate(labels.TASKS)}}
    size = os.path.getsize(os.path.join(directory, name))
    for entry in speakers.values():
        entry["shard_bytes"] = [size]
    manifest = {"format_version": tfrecords.FORMAT_VERSION, "corpus": "random",
                "feature_config": feature_config.to_dict(),
                "class_names": ["neu", "hap", "sad", "ang"], "aux_tasks": list(labels.AUX_TASKS),
                "aux_available": {task: True for task in labels.AUX_TASKS}, "speakers": speakers,
                "excluded": {}, "missing_files": [], "totals": {}}
    atomic_files.write_text(os.path.join(directory, tfrecords.MANIFEST_NAME),
                            tfrecord_dir.manifest_text(manifest))


def by_skipping(directory, manifest, speaker, feature_config):
    """The speaker's segments as `episodes.speaker_segments` read them before this branch:
    `shard_reader.speaker_dataset` (`TFRecordDataset(path).skip(first)`), batched by 256."""
    parts = {"spectrogram": [], "labels": [], "utterance_id": []}
    dataset = shard_reader.speaker_dataset(directory, manifest, speaker, feature_config).batch(256)
    for parsed in dataset:
        parts["spectrogram"].append(parsed["spectrogram"].numpy())
        parts["labels"].append(tf.stack([parsed[task] for task in labels.TASKS], -1).numpy())
        parts["utterance_id"].append(parsed["utterance_id"].numpy())
    return {name: np.concatenate(values) for name, values in parts.items()}


def main(directory, speakers_count=100, per=20):
    feature_config = config_lib.FeatureConfig()  # the paper's: 300 x 200 float16 records
    if not os.path.exists(os.path.join(directory, tfrecords.MANIFEST_NAME)):
        write_corpus(directory, speakers_count, per, feature_config)
    manifest = tfrecords.load_manifest(directory, feature_config)
    names = sorted(manifest["speakers"])
    (path,) = shard_reader.speaker_shard_paths(directory, manifest, names[0])
    print(f"shard: {len(names)} speakers x {per} records, {os.path.getsize(path) / 1e6:.0f} MB")
    ways = {"skip": lambda s: by_skipping(directory, manifest, s, feature_config),
            "offset": lambda s: episodes.speaker_segments(directory, manifest, s, feature_config)}
    for way, read in ways.items():
        read(names[0])  # traces
        for cold in (False, True):
            for speaker in (names[0], names[-1]):
                times = []
                for _ in range(7):
                    if cold:
                        handle = os.open(path, os.O_RDONLY)
                        os.posix_fadvise(handle, 0, 0, os.POSIX_FADV_DONTNEED)
                        os.close(handle)
                        shard_reader._scan_offsets.cache_clear()  # pylint: disable=protected-access
                    started = time.perf_counter()
                    read(speaker)
                    times.append(time.perf_counter() - started)
                print(f"{way:6s} {'cold' if cold else 'warm'} {speaker} (records from "
                      f"{manifest['speakers'][speaker]['shard_records'][0][0]}): median "
                      f"{np.median(times):.3f} s, min {min(times):.3f} s")
    same = all(np.array_equal(ways["skip"](names[-1])[key], ways["offset"](names[-1])[key])
               for key in ("spectrogram", "labels", "utterance_id"))
    print(f"the two ways read the same arrays: {same}")


if __name__ == "__main__":
    main(sys.argv[1], *map(int, sys.argv[2:]))

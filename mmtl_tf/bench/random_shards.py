"""Prepared data without audio: random spectrogram shards and manifest.json for any speaker count.

Generating and preparing a synthetic corpus of 1,000 speakers would take far longer than the
figures that read it, and only the shape of the data matters to them. So the segments are
random (a small pool of spectrograms, reused) written through the project's own record schema
(`tfrecords.serialize_segment`) beside manifest.json, a layout `tfrecord_dir` reads as it is:
the episode pipeline reads them exactly as it reads prepared speech. Two speakers share a
session, as in IEMOCAP.
"""

import os

import numpy as np
import tensorflow as tf

from mmtl_tf import atomic_files
from mmtl_tf import corpora
from mmtl_tf import labels
from mmtl_tf import tfrecord_dir
from mmtl_tf import tfrecords
from mmtl_tf.bench import plan as plan_lib

_POOL = 32  # distinct random spectrograms, cycled


def speaker_name(index: int) -> str:
    """The id of the index-th random speaker: `r00000F`, `r00001M`, ..."""
    return f"r{index:05d}{'FM'[index % 2]}"


def write_random_shards(directory: str, num_speakers: int, segments_per_speaker: int,
                        feature_config, seed: int = 0) -> dict:
    """Writes `num_speakers` speakers of random segments (one shard each) and the manifest.

    Args:
      directory: where shards and manifest.json go (created).
      num_speakers: speakers to write (two per session).
      segments_per_speaker: segments of every speaker.
      feature_config: the spectrogram shape [max_frames, num_bins] (stored in the manifest).
      seed: of the spectrograms and labels.

    Returns:
      The manifest, as `tfrecords.load_manifest` would read it.
    """
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(seed)
    shape = (_POOL, feature_config.max_frames, feature_config.num_bins)
    pool = rng.standard_normal(shape, dtype=np.float32).astype(np.float16)
    frames = feature_config.frames_for(feature_config.segment_samples)
    speakers = {}
    for index in range(num_speakers):
        speaker, session = speaker_name(index), str(index // 2 + 1)
        drawn = rng.integers(0, labels.NUM_VAD_BINS, (segments_per_speaker, len(labels.TASKS)))
        histograms = {task: np.bincount(drawn[:, column], minlength=labels.NUM_VAD_BINS).tolist()
                      for column, task in enumerate(labels.TASKS)}
        name = tfrecords.shard_name(speaker, 0, 1)
        path = os.path.join(directory, name)
        with tf.io.TFRecordWriter(atomic_files.temporary_path(path)) as writer:
            for row, values in enumerate(drawn):
                utterance = corpora.Utterance(f"{speaker}_{row:05d}", "", speaker, session,
                                              *(int(value) for value in values))
                writer.write(tfrecords.serialize_segment(utterance, 0, pool[row % _POOL],
                                                         frames))
        os.replace(atomic_files.temporary_path(path), path)
        speakers[speaker] = {"session": session, "shards": [name],
                             "num_segments": segments_per_speaker,
                             "num_utterances": segments_per_speaker, "histograms": histograms}
    manifest = {
        "format_version": tfrecords.FORMAT_VERSION, "corpus": "random",
        "feature_config": feature_config.to_dict(), "class_names": list(plan_lib.CLASS_NAMES),
        "aux_tasks": list(labels.AUX_TASKS),
        "aux_available": {task: True for task in labels.AUX_TASKS},
        "speakers": speakers, "excluded": {}, "missing_files": [],
        "totals": {"utterances": num_speakers * segments_per_speaker,
                   "segments": num_speakers * segments_per_speaker}}
    atomic_files.write_text(os.path.join(directory, tfrecords.MANIFEST_NAME),
                            tfrecord_dir.manifest_text(manifest))  # as prepare writes it
    return manifest

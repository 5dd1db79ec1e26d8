"""A tiny hand-built corpus for the preparation tests, and a byte snapshot of a directory tree.

Speaker 1F has utterances of 0.5 s and 3 s, speaker 1M of 3.2 s and 7 s, i.e. 1 + 1 + 2 + 3 = 7
segments of at most 3 s.
"""

import collections
import os

import numpy as np

from mmtl_tf import audio
from mmtl_tf import corpora

DURATIONS = {"1F_a": 0.5, "1F_b": 3.0, "1M_a": 3.2, "1M_b": 7.0}
LABELS = {"1F_a": (0, 1, 2, 3), "1F_b": (2, 0, 3, -1), "1M_a": (3, 2, 1, 0), "1M_b": (0, 3, 3, 2)}


def waveform(seconds, sample_rate, seed, channels=1):
    """A noisy sine, float32 [samples] or [samples, channels]."""
    rng = np.random.default_rng(seed)
    time = np.arange(int(round(seconds * sample_rate))) / sample_rate
    tone = 0.3 * np.sin(2 * np.pi * (150 + 40 * seed) * time)
    columns = [tone + 0.05 * rng.standard_normal(time.shape) for _ in range(channels)]
    return np.stack(columns, axis=1) if channels > 1 else columns[0]


def listing(directory, durations=None, corpus="handmade"):
    """Writes one wav per utterance into `directory` and returns their `CorpusListing`."""
    utterances = []
    for seed, (utterance_id, seconds) in enumerate(sorted((durations or DURATIONS).items())):
        path = os.path.join(directory, f"{utterance_id}.wav")
        audio.write_wav(path, waveform(seconds, 16000, seed), 16000)
        emotion, valence, arousal, dominance = LABELS.get(utterance_id, (0, 0, 0, 0))
        utterances.append(corpora.Utterance(utterance_id, path, utterance_id[:2],
                                            utterance_id[0], emotion, valence, arousal, dominance))
    return corpora.CorpusListing(corpus, ("neu", "hap", "sad", "ang"), utterances,
                                 collections.Counter({"label xxx": 2}))


def tree_bytes(directory, skip_folder=None):
    """{relative path: bytes} of every file under `directory`, except those in `skip_folder`."""
    snapshot = {}
    for folder, _, names in os.walk(directory):
        relative = os.path.relpath(folder, directory)
        if skip_folder and (relative == skip_folder or relative.startswith(skip_folder + os.sep)):
            continue
        for name in names:
            with open(os.path.join(folder, name), "rb") as handle:
                snapshot[os.path.normpath(os.path.join(relative, name))] = handle.read()
    return snapshot


def shard_bytes(directory, manifest):
    """{shard name: bytes} of every shard the manifest names."""
    from mmtl_tf import shard_reader  # pylint: disable=import-outside-toplevel (loads TensorFlow)

    result = {}
    for speaker in manifest["speakers"]:
        for path in shard_reader.speaker_shard_paths(directory, manifest, speaker):
            with open(path, "rb") as handle:
                result[os.path.basename(path)] = handle.read()
    return result


def speaker_records(directory, manifest):
    """{speaker: [serialized record, ...]} of each speaker's own runs of records, in order,
    whatever shards they share."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    from mmtl_tf import shard_reader  # pylint: disable=import-outside-toplevel

    result = {}
    for speaker in manifest["speakers"]:
        result[speaker] = []
        for path, (first, count) in zip(
                shard_reader.speaker_shard_paths(directory, manifest, speaker),
                shard_reader.speaker_record_runs(manifest, speaker)):
            records = list(tf.data.TFRecordDataset(path).as_numpy_iterator())[first:]
            result[speaker] += records if count is None else records[:count]
    return result


def without_layout(manifest):
    """The manifest without what depends on how speakers were grouped into shard files (the
    speaker digests stay: they leave the shard size out)."""
    layout = ("shards", "shard_records", "shard_bytes")
    return {**{key: value for key, value in manifest.items() if key not in ("speakers", "generation")},
            "speakers": {speaker: {key: value for key, value in entry.items() if key not in layout}
                         for speaker, entry in manifest["speakers"].items()}}
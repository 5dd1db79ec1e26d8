"""Invariants of the record schema, shard names and manifest checks (mmtl_tf.tfrecords), and of
reading shards back (mmtl_tf.shard_reader)."""

import os

import numpy as np
import pytest
import tensorflow as tf

from mmtl_tf import atomic_files
from mmtl_tf import config as config_lib
from mmtl_tf import corpora
from mmtl_tf import shard_reader
from mmtl_tf import tfrecords

FEATURE_CONFIG = config_lib.FeatureConfig()


def _utterance(utterance_id="Ses01F_impro01_F000", speaker="1F", emotion=2, valence=1,
               arousal=corpora.MISSING_LABEL, dominance=3):
    return corpora.Utterance(utterance_id=utterance_id, path="/corpus/a.wav", speaker=speaker,
                             session="1", emotion=emotion, valence=valence, arousal=arousal,
                             dominance=dominance)


def _spectrogram(seed=0):
    """float32 [300, 200]: normal values, row t offset by t so time order is visible."""
    rng = np.random.default_rng(seed)
    values = rng.standard_normal((FEATURE_CONFIG.max_frames, FEATURE_CONFIG.num_bins))
    return (values + np.arange(FEATURE_CONFIG.max_frames)[:, np.newaxis] / 100.0).astype(np.float32)


def test_round_trip_keeps_labels_exactly_and_spectrogram_within_float16():
    spectrogram = _spectrogram()
    serialized = tfrecords.serialize_segment(_utterance(), 4, spectrogram, 217)
    for batch in (serialized, [serialized, serialized]):
        parsed = {name: value.numpy() for name, value in
                  tfrecords.parse_segments(tf.constant(batch), FEATURE_CONFIG).items()}
        leading = np.shape(batch)
        assert parsed["spectrogram"].shape == leading + (300, 200)
        assert parsed["spectrogram"].dtype == np.float32
        expected = np.broadcast_to(spectrogram, parsed["spectrogram"].shape)
        np.testing.assert_array_equal(parsed["spectrogram"],
                                      expected.astype(np.float16).astype(np.float32))
        np.testing.assert_allclose(parsed["spectrogram"], expected, rtol=1e-3, atol=1e-3)
        labels = {"emotion": 2, "valence": 1, "arousal": -1, "dominance": 3, "num_frames": 217,
                  "segment_index": 4}
        for name, value in labels.items():
            assert parsed[name].dtype == np.int32
            np.testing.assert_array_equal(parsed[name], np.full(leading, value))
        np.testing.assert_array_equal(parsed["utterance_id"],
                                      np.full(leading, b"Ses01F_impro01_F000", dtype=object))
        np.testing.assert_array_equal(parsed["speaker"], np.full(leading, b"1F", dtype=object))


def test_spectrogram_bytes_are_little_endian_float16_row_major_by_time():
    spectrogram = _spectrogram(seed=1)
    example = tf.train.Example.FromString(
        tfrecords.serialize_segment(_utterance(), 0, spectrogram, 300))
    raw = example.features.feature["spectrogram"].bytes_list.value[0]
    assert len(raw) == 300 * 200 * 2
    decoded = np.frombuffer(raw, dtype="<f2").reshape(300, 200)
    np.testing.assert_array_equal(decoded, spectrogram.astype(np.float16))
    assert set(example.features.feature) == set(tfrecords.FEATURE_SPEC)


def test_serialization_is_deterministic():
    first = tfrecords.serialize_segment(_utterance(), 1, _spectrogram(), 12)
    assert first == tfrecords.serialize_segment(_utterance(), 1, _spectrogram(), 12)


def test_serialize_rejects_a_spectrogram_that_is_not_two_dimensional():
    with pytest.raises(ValueError, match="Ses01F_impro01_F000"):
        tfrecords.serialize_segment(_utterance(), 0, np.zeros((2, 300, 200)), 1)


def test_shard_name_counts_from_zero_with_total():
    assert tfrecords.shard_name("1F", 0, 2) == "1F-00000-of-00002.tfrecord"
    assert tfrecords.shard_name("5M", 11, 12) == "5M-00011-of-00012.tfrecord"


def _manifest(feature_config, shards):
    return {"format_version": 1, "corpus": "test", "feature_config": feature_config.to_dict(),
            "class_names": ["neu", "hap", "sad", "ang"], "aux_tasks": list(corpora.AUX_TASKS),
            "aux_available": {task: True for task in corpora.AUX_TASKS},
            "speakers": {"1F": {"session": "1", "shards": shards, "num_segments": 5,
                                "num_utterances": 5, "histograms": {"emotion": [5, 0, 0, 0]}}},
            "excluded": {}, "missing_files": [], "totals": {"utterances": 5, "segments": 5}}


def _write_manifest(directory, manifest):
    atomic_files.write_json(os.path.join(directory, tfrecords.MANIFEST_NAME), manifest)


def test_manifest_round_trip(tmp_path):
    manifest = _manifest(FEATURE_CONFIG, [])
    _write_manifest(tmp_path, manifest)
    assert tfrecords.load_manifest(str(tmp_path), FEATURE_CONFIG) == manifest


@pytest.mark.parametrize("damage, named", [
    (lambda m: m.pop("speakers"), "key 'speakers' is missing"),
    (lambda m: m.update(class_names="neu"), "key 'class_names' is missing or not a list"),
    (lambda m: m["speakers"]["1F"].pop("shards"), "key speakers.1F.shards is missing"),
    (lambda m: m["speakers"]["1F"]["histograms"].pop("emotion"),
     "key speakers.1F.histograms.emotion is missing"),
    (lambda m: m["speakers"]["1F"].update(shard_records=[[0, 5]]),  # a pair, but no shard
     "key speakers.1F.shard_records is not a [first, count] pair per shard"),
])
def test_manifest_missing_a_key_names_the_file_the_key_and_what_to_do(tmp_path, damage, named):
    manifest = _manifest(FEATURE_CONFIG, [])
    damage(manifest)
    _write_manifest(tmp_path, manifest)
    with pytest.raises(ValueError) as error:
        tfrecords.load_manifest(str(tmp_path))
    message = str(error.value)
    assert str(tmp_path / "manifest.json") in message and named in message
    assert "python -m mmtl_tf.prepare" in message


def test_manifest_with_other_features_names_each_differing_field(tmp_path):
    stored = config_lib.FeatureConfig(window_ms=25.0, hop_ms=20.0)
    _write_manifest(tmp_path, _manifest(stored, []))
    with pytest.raises(ValueError) as raised:
        tfrecords.load_manifest(str(tmp_path), FEATURE_CONFIG)
    message = str(raised.value)
    assert "window_ms: requested 40.0, stored 25.0" in message
    assert "hop_ms: requested 10.0, stored 20.0" in message
    assert "fft_length" not in message
    assert "--tfrecord_dir" in message


def test_missing_manifest_says_to_run_prepare(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"python -m mmtl_tf\.prepare"):
        tfrecords.load_manifest(str(tmp_path / "nowhere"))


def test_manifest_of_another_format_version_is_refused(tmp_path):
    manifest = _manifest(FEATURE_CONFIG, [])
    manifest["format_version"] = 99
    _write_manifest(tmp_path, manifest)
    with pytest.raises(ValueError, match="format_version 99"):
        tfrecords.load_manifest(str(tmp_path))


def test_speaker_dataset_reads_every_shard_in_order(tmp_path):
    shards = [tfrecords.shard_name("1F", index, 2) for index in range(2)]
    for shard, indices in zip(shards, ([0, 1, 2], [3, 4])):
        with tf.io.TFRecordWriter(str(tmp_path / shard)) as writer:
            for index in indices:
                writer.write(tfrecords.serialize_segment(
                    _utterance(utterance_id=f"u{index}"), index, _spectrogram(index), index + 1))
    manifest = _manifest(FEATURE_CONFIG, shards)
    dataset = shard_reader.speaker_dataset(str(tmp_path), manifest, "1F", FEATURE_CONFIG)
    assert dataset.element_spec["spectrogram"].shape == (300, 200)
    segments = list(dataset.as_numpy_iterator())
    assert [segment["utterance_id"] for segment in segments] == [b"u0", b"u1", b"u2", b"u3", b"u4"]
    assert [segment["num_frames"] for segment in segments] == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(segments[3]["spectrogram"], _spectrogram(3), rtol=1e-3, atol=1e-3)


def test_speaker_shard_paths_name_an_unknown_speaker_and_a_missing_shard(tmp_path):
    manifest = _manifest(FEATURE_CONFIG, ["1F-00000-of-00001.tfrecord"])
    with pytest.raises(ValueError, match="'9M'"):
        shard_reader.speaker_shard_paths(str(tmp_path), manifest, "9M")
    with pytest.raises(FileNotFoundError, match="1F-00000-of-00001.tfrecord"):
        shard_reader.speaker_shard_paths(str(tmp_path), manifest, "1F")


def _write_shards(directory, counts):
    """Writes speaker 1F's shards holding `counts` segments each; returns (manifest, paths)."""
    names = [tfrecords.shard_name("1F", index, len(counts)) for index in range(len(counts))]
    first = 0
    for name, count in zip(names, counts):
        with tf.io.TFRecordWriter(os.path.join(directory, name)) as writer:
            for index in range(first, first + count):
                writer.write(tfrecords.serialize_segment(
                    _utterance(utterance_id=f"u{index}"), index, _spectrogram(index), index + 1))
        first += count
    manifest = _manifest(FEATURE_CONFIG, names)
    manifest["speakers"]["1F"]["num_segments"] = sum(counts)
    manifest["speakers"]["1F"]["shard_bytes"] = [
        os.path.getsize(os.path.join(directory, name)) for name in names]
    return manifest, [os.path.join(directory, name) for name in names]


def test_a_shard_of_another_size_than_prepare_wrote_is_named(tmp_path):
    manifest, paths = _write_shards(tmp_path, [2, 2])
    with open(paths[1], "rb") as handle:
        data = handle.read()
    with open(paths[1], "wb") as handle:  # cut at a record boundary: TensorFlow reads it fine
        handle.write(data[:len(data) // 2])
    with pytest.raises(shard_reader.DamagedShardError) as error:
        shard_reader.speaker_shard_paths(str(tmp_path), manifest, "1F")
    assert str(error.value).startswith(f"{paths[1]}: damaged TFRecord shard")
    assert f"prepare wrote {len(data)}" in str(error.value)


def test_records_read_by_offset_equal_the_sequential_read_and_a_cut_record_is_named(tmp_path):
    _, paths = _write_shards(tmp_path, [3, 2])
    expected = [record.numpy() for record in tf.data.TFRecordDataset(paths)]
    offsets = [shard_reader.record_offsets(path, str(tmp_path)) for path in paths]
    files = np.array([0, 0, 0, 1, 1])
    starts = np.array(offsets[0] + offsets[1])
    order = np.array([4, 0, 3, 1, 2])  # any order, several files
    assert list(shard_reader.read_records(paths, files[order], starts[order])) == [
        expected[index] for index in order]

    with open(paths[1], "rb") as handle:
        data = handle.read()
    with open(paths[1], "wb") as handle:
        handle.write(data[:-10])  # the last record loses its end
    with pytest.raises(shard_reader.DamagedShardError, match=f"{paths[1]}: damaged TFRecord shard"):
        shard_reader.record_offsets(paths[1], str(tmp_path))


def test_a_record_whose_bytes_changed_fails_its_crc_check(tmp_path):
    _, paths = _write_shards(tmp_path, [2])
    offsets = shard_reader.record_offsets(paths[0], str(tmp_path))
    with open(paths[0], "rb") as handle:
        data = bytearray(handle.read())
    data[offsets[1] + 1000] ^= 0xFF
    with open(paths[0], "wb") as handle:
        handle.write(bytes(data))
    assert shard_reader.read_records(paths, np.array([0]), np.array([offsets[0]]))[0]
    with pytest.raises(ValueError, match=f"{paths[0]}: damaged TFRecord shard"):
        shard_reader.read_records(paths, np.array([0]), np.array([offsets[1]]))

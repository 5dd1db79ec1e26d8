"""Small speakers share shard files (issue 17.3): packing, reading back, reuse and migration.

A corpus of thousands of small speakers must not cost a file (and a done-record) per speaker, so
`shard_writer.pack_units` groups consecutive speakers until a shard is full; each manifest entry
names its speaker's run of records in each shard. Tiny hand-built corpus of six speakers with
one or two short utterances each (`handmade_corpus`).
"""

import dataclasses
import os
import shutil

import pytest

import handmade_corpus
from mmtl_tf import audio
from mmtl_tf import config as config_lib
from mmtl_tf import corpora
from mmtl_tf import episodes
from mmtl_tf import preparation
from mmtl_tf import shard_reader
from mmtl_tf import shard_writer
from mmtl_tf import tfrecord_dir

FEATURE_CONFIG = config_lib.FeatureConfig()
# Segments: 1F 1, 1M 2, 2F 1, 2M 3, 3F 1, 3M 1 (3 s segments).
DURATIONS = {"1F_a": 1.0, "1M_a": 2.0, "1M_b": 1.5, "2F_a": 2.5, "2M_a": 7.0, "3F_a": 1.0,
             "3M_a": 2.0}


def test_pack_units_fills_a_shard_then_starts_the_next():
    segments = {"a": 3, "b": 2, "c": 6, "d": 1, "e": 1, "f": 4}
    assert shard_writer.pack_units(segments, 5) == [["a", "b"], ["c"], ["d", "e"], ["f"]]
    assert shard_writer.pack_units(segments, 100) == [["a", "b", "c", "d", "e", "f"]]
    assert shard_writer.pack_units(segments, 1) == [[name] for name in "abcdef"]
    # What is left after finished units is grouped as before (a resumed prepare's grouping).
    rest = {name: segments[name] for name in "def"}
    assert shard_writer.pack_units(rest, 5) == [["d", "e"], ["f"]]


@pytest.fixture(scope="module")
def packed(tmp_path_factory):
    """(listing, directory, manifest) prepared with 4 segments per shard."""
    root = tmp_path_factory.mktemp("packed")
    os.makedirs(root / "wav")
    listing = handmade_corpus.listing(str(root / "wav"), DURATIONS)
    directory = str(root / "tfrecords")
    manifest = preparation.prepare_corpus(listing, FEATURE_CONFIG, directory,
                                          segments_per_shard=4, show_progress=False)
    return listing, directory, manifest


def _own_utterances(directory, manifest, speaker):
    segments = episodes.speaker_segments(directory, manifest, speaker, FEATURE_CONFIG)
    return [utterance_id.decode() for utterance_id in segments["utterance_id"]]


def _expected_utterances(listing, speaker):
    return [utterance.utterance_id for utterance in listing.utterances if utterance.speaker == speaker
            for _ in range(-(-int(DURATIONS[utterance.utterance_id] * 16000)
                             // FEATURE_CONFIG.segment_samples))]


def test_small_speakers_share_shards_and_each_reads_back_only_its_own(packed):
    listing, directory, manifest = packed
    folder = tfrecord_dir.shard_folder(directory, manifest)
    files = sorted(name for name in os.listdir(folder) if name.endswith(".tfrecord"))
    # Units of at most 4 segments: [1F 1M 2F] (1 + 2 + 1), [2M 3F] (3 + 1), [3M]: three shard
    # files and three done-records for six speakers.
    assert files == ["1F-00000-of-00001.tfrecord", "2M-00000-of-00001.tfrecord",
                     "3M-00000-of-00001.tfrecord"]
    assert sorted(name for name in os.listdir(folder) if name.endswith(".done.json")) == [
        "1F.done.json", "2M.done.json", "3M.done.json"]
    assert manifest["speakers"]["3F"]["shards"] == ["2M-00000-of-00001.tfrecord"]
    assert manifest["speakers"]["3F"]["shard_records"] == [[3, 1]]
    for speaker in manifest["speakers"]:
        assert _own_utterances(directory, manifest, speaker) == _expected_utterances(listing,
                                                                                     speaker)


def _relabel_and_reprepare(packed, tmp_path, capsys, utterance_id, emotion):
    """A copy of the packed preparation, prepared again with one utterance's emotion changed.

    Returns:
      (copy directory, changed listing, new manifest, what the prepare printed).
    """
    listing, directory, _ = packed
    copy = str(tmp_path / "copy")
    shutil.copytree(directory, copy)
    changed = dataclasses.replace(listing, utterances=[
        dataclasses.replace(u, emotion=emotion) if u.utterance_id == utterance_id else u
        for u in listing.utterances])
    capsys.readouterr()
    updated = preparation.prepare_corpus(changed, FEATURE_CONFIG, copy, segments_per_shard=4,
                                         show_progress=False)
    return copy, changed, updated, capsys.readouterr().out


def test_a_changed_speaker_in_a_shared_shard_is_recomputed_alone(packed, tmp_path, capsys):
    manifest = packed[2]
    copy, changed, updated, printed = _relabel_and_reprepare(packed, tmp_path, capsys, "1M_b", 3)
    assert "speaker 1M: already" not in printed
    for speaker in ("1F", "2F", "2M", "3F", "3M"):
        assert f"speaker {speaker}: already prepared" in printed
        assert ({k: v for k, v in updated["speakers"][speaker].items() if k != "shard_bytes"}
                == {k: v for k, v in manifest["speakers"][speaker].items() if k != "shard_bytes"})
    assert updated["speakers"]["1M"]["shards"] == ["1M-00000-of-00001.tfrecord"]
    assert updated["speakers"]["1M"]["histograms"]["emotion"] == [0, 0, 0, 2]  # was [1, 0, 0, 1]
    for speaker in updated["speakers"]:  # 1F still reads its run of the old shared shard
        assert _own_utterances(copy, updated, speaker) == _expected_utterances(changed, speaker)


def test_dropping_a_units_first_speaker_keeps_the_others_reusable(packed, tmp_path, capsys):
    """The unit's files are named by its first speaker (1F); without 1F in the corpus they are
    kept for 1M, and a third prepare still reuses 1M rather than recomputing it."""
    listing, directory, _ = packed
    copy = str(tmp_path / "copy")
    shutil.copytree(directory, copy)
    without = dataclasses.replace(listing, utterances=[u for u in listing.utterances
                                                       if u.speaker != "1F"])
    for _ in range(2):
        capsys.readouterr()
        manifest = preparation.prepare_corpus(without, FEATURE_CONFIG, copy, segments_per_shard=4,
                                              show_progress=False)
        assert "speaker 1M: already prepared" in capsys.readouterr().out
    assert manifest["speakers"]["1M"]["shards"] == ["1F-00000-of-00001.tfrecord"]
    assert _own_utterances(copy, manifest, "1M") == _expected_utterances(listing, "1M")


def test_a_format_1_manifest_reads_each_shard_whole(packed, tmp_path):
    """Format 1 had one speaker per shard and no `shard_records`: readers take the whole file."""
    listing, directory, _ = packed
    old = str(tmp_path / "old")
    manifest = preparation.prepare_corpus(listing, FEATURE_CONFIG, old, segments_per_shard=1,
                                          show_progress=False)  # a unit per speaker
    for entry in manifest["speakers"].values():
        del entry["shard_records"]
    manifest["format_version"] = 1
    assert shard_reader.speaker_record_runs(manifest, "2M") == [(0, None)] * 3  # 3 segments
    assert _own_utterances(old, manifest, "2M") == _expected_utterances(listing, "2M")


def test_a_changed_first_speaker_recomputes_its_whole_unit(packed, tmp_path, capsys):
    """1F names the files of the unit [1F 1M 2F]; recomputing 1F replaces them, so 1M and 2F,
    stored there, are recomputed with it rather than left pointing at a rewritten file."""
    copy, changed, updated, printed = _relabel_and_reprepare(packed, tmp_path, capsys, "1F_a", 2)
    for speaker in ("1F", "1M", "2F"):
        assert f"speaker {speaker}: already" not in printed
    for speaker in ("2M", "3F", "3M"):
        assert f"speaker {speaker}: already prepared" in printed
    assert updated["speakers"]["1F"]["histograms"]["emotion"] == [0, 0, 1, 0]
    for speaker in updated["speakers"]:
        assert _own_utterances(copy, updated, speaker) == _expected_utterances(changed, speaker)
    fresh = preparation.prepare_corpus(changed, FEATURE_CONFIG, str(tmp_path / "fresh"),
                                       segments_per_shard=4, show_progress=False)
    assert {**updated, "generation": None} == {**fresh, "generation": None}


def test_resuming_a_failed_reprepare_never_links_an_old_unit_over_a_staged_one(
        packed, tmp_path, monkeypatch, capsys):
    """1F grows out of the unit [1F 1M 2F]: the re-prepare stages 1F's new unit under the old
    unit's name (1F-...) and fails before 1M's. Resumed, 1M and 2F match their digests in the
    committed generation, but their file is named like the staged one: they are recomputed,
    and 1F keeps its new shard (linking the old file over it gave 1F the old unit's records)."""
    listing, directory, _ = packed
    copy = str(tmp_path / "copy")
    shutil.copytree(directory, copy)
    path = str(tmp_path / "1F_z.wav")
    audio.write_wav(path, handmade_corpus.waveform(7.0, 16000, 99), 16000)  # 3 more segments
    grown = dataclasses.replace(listing, utterances=sorted(
        listing.utterances + [corpora.Utterance("1F_z", path, "1F", "1", 1, 1, 1, 1)],
        key=lambda utterance: utterance.utterance_id))
    write_unit = shard_writer.write_unit

    def failing_after_one_unit(folder, unit, *args, **kwargs):
        if unit[0] != "1F":
            raise audio.AudioError("a bad wav in the next unit")
        return write_unit(folder, unit, *args, **kwargs)

    monkeypatch.setattr(shard_writer, "write_unit", failing_after_one_unit)
    with pytest.raises(audio.AudioError):
        preparation.prepare_corpus(grown, FEATURE_CONFIG, copy, segments_per_shard=4,
                                   show_progress=False)
    monkeypatch.setattr(shard_writer, "write_unit", write_unit)
    capsys.readouterr()
    resumed = preparation.prepare_corpus(grown, FEATURE_CONFIG, copy, segments_per_shard=4,
                                         show_progress=False)
    printed = capsys.readouterr().out
    assert "speaker 1F: already prepared" in printed  # from the staged unit
    assert "speaker 1M: already" not in printed and "speaker 2F: already" not in printed
    for speaker in resumed["speakers"]:
        assert _own_utterances(copy, resumed, speaker) == [
            utterance_id for utterance_id in _expected_utterances(listing, speaker)
        ] + (["1F_z"] * 3 if speaker == "1F" else [])

"""A prepare never damages a committed preparation (mmtl_tf.tfrecord_dir with mmtl_tf.preparation).

Each test starts from a copy of one committed preparation of the hand-built corpus and compares
the directory byte for byte before and after: a refused, failed or killed prepare leaves every
file as it was, adding at most its staging folder (which the next prepare resumes from).
"""

import dataclasses
import json
import os
import shutil
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import handmade_corpus
from lock_holder import Holder
from mmtl_tf import audio
from mmtl_tf import config as config_lib
from mmtl_tf import directory_lock
from mmtl_tf import done_records
from mmtl_tf import preparation
from mmtl_tf import shard_reader
from mmtl_tf import tfrecord_dir
from mmtl_tf import tfrecords

FEATURE_CONFIG = config_lib.FeatureConfig()
REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def committed(tmp_path_factory):
    """(listing, directory, manifest) of one committed preparation; tests work on copies."""
    root = tmp_path_factory.mktemp("committed")
    os.makedirs(root / "wav")
    listing = handmade_corpus.listing(str(root / "wav"))
    directory = str(root / "tfrecords")
    manifest = preparation.prepare_corpus(listing, FEATURE_CONFIG, directory, show_progress=False,
                                          prepare_flags="--window_ms=40.0\n")
    return listing, directory, manifest


def _copy(committed, tmp_path):
    """A copy of the committed preparation (of the same wavs); returns (listing, directory)."""
    listing, directory, _ = committed
    return listing, str(shutil.copytree(directory, tmp_path / "tfrecords"))


def _relabelled(listing):
    """The listing with one label of speaker 1M changed (1M must be recomputed, 1F not)."""
    return dataclasses.replace(listing, utterances=[
        dataclasses.replace(u, emotion=1) if u.utterance_id == "1M_a" else u
        for u in listing.utterances])


def test_other_feature_settings_are_refused_untouched_and_overwrite_replaces(committed,
                                                                            tmp_path):
    listing, directory = _copy(committed, tmp_path)
    before = handmade_corpus.tree_bytes(directory)
    other = config_lib.FeatureConfig(window_ms=25.0)
    with pytest.raises(tfrecord_dir.TfrecordDirError) as refused:
        preparation.prepare_corpus(listing, other, directory, show_progress=False)
    assert "window_ms: requested 25.0, stored 40.0" in str(refused.value)
    assert "--overwrite" in str(refused.value) and directory in str(refused.value)
    assert handmade_corpus.tree_bytes(directory) == before

    replaced = preparation.prepare_corpus(listing, other, directory, show_progress=False,
                                          overwrite=True)
    assert tfrecords.load_manifest(directory, other) == replaced
    assert sorted(os.listdir(directory)) == [".lock", "generation-0002", "manifest.json"]


def test_rerun_failing_on_a_corrupt_wav_leaves_the_committed_preparation_byte_for_byte(tmp_path):
    os.makedirs(tmp_path / "wav")
    listing = handmade_corpus.listing(str(tmp_path / "wav"))  # wavs of its own, to damage
    directory = str(tmp_path / "tfrecords")
    preparation.prepare_corpus(listing, FEATURE_CONFIG, directory, show_progress=False)
    before = handmade_corpus.tree_bytes(directory)
    wav = next(u.path for u in listing.utterances if u.utterance_id == "1M_b")

    with open(wav, "r+b") as handle:  # a damaged header: found before anything is written
        handle.write(b"JUNK")
    with pytest.raises(audio.AudioError, match="1M_b.wav"):
        preparation.prepare_corpus(listing, FEATURE_CONFIG, directory, show_progress=False)
    assert handmade_corpus.tree_bytes(directory) == before

    samples = handmade_corpus.waveform(6.0, 16000, 3).astype("<f4")
    samples[5000] = np.nan  # a valid float header: only decoding, mid-preparation, finds it
    data = samples.tobytes()
    with open(wav, "wb") as handle:
        handle.write(b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE" + b"fmt "
                     + struct.pack("<IHHIIHH", 16, 3, 1, 16000, 64000, 4, 32)
                     + b"data" + struct.pack("<I", len(data)) + data)
    with pytest.raises(audio.AudioError, match=r"1M_b\.wav.*NaN"):
        preparation.prepare_corpus(_relabelled(listing), FEATURE_CONFIG, directory,
                                   show_progress=False)
    assert handmade_corpus.tree_bytes(directory, skip_folder="generation-0002") == before
    assert os.path.isdir(os.path.join(directory, "generation-0002"))  # staged work, kept

    audio.write_wav(wav, handmade_corpus.waveform(6.0, 16000, 3), 16000)  # the user fixes it
    manifest = preparation.prepare_corpus(_relabelled(listing), FEATURE_CONFIG, directory,
                                          show_progress=False)
    assert manifest["generation"] == "generation-0002"
    assert manifest["speakers"]["1M"]["num_segments"] == 2 + 2  # 1M_a 3.2 s, 1M_b now 6 s
    assert sorted(os.listdir(directory)) == [".lock", "generation-0002", "manifest.json"]
    assert len(list(shard_reader.speaker_dataset(directory, manifest, "1M", FEATURE_CONFIG))) == 4


def test_a_second_prepare_is_refused_while_a_live_process_holds_the_lock(committed, tmp_path):
    listing, directory = _copy(committed, tmp_path)
    with Holder(directory) as owner:  # a live process holding the directory's lock
        before = handmade_corpus.tree_bytes(directory)
        with pytest.raises(directory_lock.DirectoryInUseError) as refused:
            preparation.prepare_corpus(_relabelled(listing), FEATURE_CONFIG, directory,
                                       show_progress=False)
        assert str(refused.value) == (
            f"{directory} is in use by another prepare (pid {owner.pid}). Wait for it to "
            f"finish, or choose another --tfrecord_dir.")
        assert handmade_corpus.tree_bytes(directory) == before
    # Killed, the owner's lock is free at once (its record stays in the file until then).
    manifest = preparation.prepare_corpus(_relabelled(listing), FEATURE_CONFIG, directory,
                                          show_progress=False)
    assert manifest["generation"] == "generation-0002"


def test_tfrecord_dir_that_is_a_file_or_cannot_be_created_is_named(tmp_path):
    path = tmp_path / "taken"
    path.write_text("not a directory")
    with pytest.raises(tfrecord_dir.TfrecordDirError, match=f"{path} is a file"):
        tfrecord_dir.lock(str(path))
    with pytest.raises(tfrecord_dir.TfrecordDirError, match=f"cannot create --tfrecord_dir {path}"):
        tfrecord_dir.lock(str(path / "inside"))


class _StopBeforeCommit(Exception):
    """Raised where `tfrecord_dir.commit` would start."""


_COMMIT_THEN_DIE = textwrap.dedent("""
    import json, os, signal, sys
    from mmtl_tf import tfrecord_dir
    directory, kill_at, payload = sys.argv[1], int(sys.argv[2]), json.load(open(sys.argv[3]))
    calls = [0]
    def deadly(function):
        def wrapper(*args, **kwargs):
            calls[0] += 1
            if calls[0] == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            return function(*args, **kwargs)
        return wrapper
    for name in ("replace", "remove", "unlink", "rmdir"):  # every change commit makes
        setattr(os, name, deadly(getattr(os, name)))
    tfrecord_dir.commit(directory, payload["manifest"], payload["previous"])
    print(calls[0])
""")


def test_sigkill_at_every_step_of_the_swap_leaves_old_or_new_whole_and_a_rerun_completes(
        committed, tmp_path, monkeypatch):
    """Stage a new generation, then commit it in a child killed before its k-th change, each k."""
    listing, directory = _copy(committed, tmp_path / "template")
    listing = _relabelled(listing)
    old = handmade_corpus.tree_bytes(directory)
    staged = {}

    def capture(directory, manifest, previous=None):
        staged.update(manifest=manifest, previous=previous)
        raise _StopBeforeCommit

    monkeypatch.setattr(tfrecord_dir, "commit", capture)
    with pytest.raises(_StopBeforeCommit):
        preparation.prepare_corpus(listing, FEATURE_CONFIG, directory, show_progress=False)
    monkeypatch.undo()
    new_files = handmade_corpus.tree_bytes(os.path.join(directory, "generation-0002"))
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps(staged))
    helper = tmp_path / "commit_then_die.py"
    helper.write_text(_COMMIT_THEN_DIE)

    def commit_in_child(copy, kill_at):
        return subprocess.run([sys.executable, str(helper), copy, str(kill_at), str(payload)],
                              cwd=REPOSITORY, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": REPOSITORY})

    dry_run = commit_in_child(shutil.copytree(directory, tmp_path / "dry"), 0)
    changes = int(dry_run.stdout.strip())
    assert changes >= 3, dry_run.stderr  # the manifest's rename and the old generation's removal
    for kill_at in range(1, changes + 1):
        copy = shutil.copytree(directory, tmp_path / f"kill{kill_at}")
        assert commit_in_child(copy, kill_at).returncode == -9
        after = handmade_corpus.tree_bytes(copy)
        if after["manifest.json"] == old["manifest.json"]:  # before the commit point
            assert handmade_corpus.tree_bytes(copy, skip_folder="generation-0002") == old
        else:  # after it: the new generation is whole
            assert json.loads(after["manifest.json"]) == staged["manifest"]
            assert handmade_corpus.tree_bytes(os.path.join(copy, "generation-0002")) == new_files
        rerun = preparation.prepare_corpus(listing, FEATURE_CONFIG, copy, show_progress=False)
        assert rerun == staged["manifest"]
        assert sorted(os.listdir(copy)) == [".lock", "generation-0002", "manifest.json"]
        assert handmade_corpus.tree_bytes(os.path.join(copy, "generation-0002")) == new_files


def test_a_flat_layout_of_an_older_version_is_read_and_migrated_without_recomputing(
        committed, tmp_path, capsys):
    listing, directory = _copy(committed, tmp_path)
    manifest = tfrecords.load_manifest(directory)
    generation = os.path.join(directory, manifest.pop("generation"))
    for name in os.listdir(generation):  # the layout before generations: all files top-level
        os.replace(os.path.join(generation, name), os.path.join(directory, name))
    os.rmdir(generation)
    with open(os.path.join(directory, "manifest.json"), "w", encoding="utf-8") as handle:
        json.dump(manifest, handle)
    assert len(list(shard_reader.speaker_dataset(directory, manifest, "1M", FEATURE_CONFIG))) == 5

    capsys.readouterr()
    migrated = preparation.prepare_corpus(listing, FEATURE_CONFIG, directory, show_progress=False)
    printed = capsys.readouterr().out
    assert "speaker 1F: already prepared" in printed and "speaker 1M: already prepared" in printed
    assert sorted(os.listdir(directory)) == [".lock", "generation-0001", "manifest.json"]
    assert handmade_corpus.shard_bytes(directory, migrated) == handmade_corpus.shard_bytes(
        committed[1], committed[2])


def test_removing_speakers_files_takes_exactly_their_shards_records_and_temporaries(tmp_path):
    # Speaker ids that look like parts of file names must not catch each other's files.
    speakers = {"a": ["a-00000-of-00001.tfrecord", "a.done.json", "a.done.json.tmp-41",
                      "a-00001-of-00002.tfrecord.tmp-7"],
                "a-00000-of-00001": ["a-00000-of-00001-00000-of-00001.tfrecord",
                                     "a-00000-of-00001.done.json"],
                "b.done": ["b.done-00000-of-00003.tfrecord", "b.done.done.json"]}
    unrelated = ["prepare_flags.txt", "manifest.json.tmp-3", "ab.done.json", "a-0-of-1.tfrecord"]
    for name in [*unrelated, *(name for names in speakers.values() for name in names)]:
        (tmp_path / name).write_text("x")
    done_records.remove_speakers_files(str(tmp_path), ["a", "b.done"])
    expected = sorted(unrelated + speakers["a-00000-of-00001"])
    assert sorted(os.listdir(tmp_path)) == expected
    done_records.remove_speakers_files(str(tmp_path), ["a-00000-of-00001", "nobody"])
    assert sorted(os.listdir(tmp_path)) == sorted(unrelated)


def test_commit_syncs_every_file_it_names_and_the_folders_before_and_after_the_commit_point(
        committed, tmp_path, monkeypatch):
    """Shards and done-records are written without fsync; the commit must fsync each of them
    (and the staging folder, for their names) before manifest.json names them, and the
    directory after the rename; nothing else (no file-system-wide `os.sync`)."""
    listing, directory = _copy(committed, tmp_path)
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def recording_fsync(descriptor):
        events.append(("fsync", os.path.realpath(f"/proc/self/fd/{descriptor}")))
        real_fsync(descriptor)

    def recording_replace(source, destination):
        events.append(("replace", os.path.realpath(destination)))
        real_replace(source, destination)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    monkeypatch.setattr(os, "replace", recording_replace)
    monkeypatch.setattr(os, "sync", lambda: pytest.fail("a file-system-wide os.sync"))
    manifest = preparation.prepare_corpus(_relabelled(listing), FEATURE_CONFIG, directory,
                                          show_progress=False)
    monkeypatch.undo()
    staging = os.path.realpath(os.path.join(directory, manifest["generation"]))
    commit_point = events.index(("replace", os.path.realpath(os.path.join(directory,
                                                                          "manifest.json"))))
    synced_before = {path for kind, path in events[:commit_point] if kind == "fsync"}
    named = tfrecord_dir.generation_files(manifest) & set(os.listdir(staging))
    assert {os.path.join(staging, name) for name in named} | {staging} <= synced_before
    assert ("fsync", os.path.realpath(directory)) in events[commit_point:]


def test_manifest_text_reads_back_as_the_manifest_with_a_line_per_speaker():
    manifest = {"format_version": 2, "corpus": "csv", "class_names": ["neu", "ang"],
                "speakers": {"b\"2": {"shards": ["b-00000-of-00001.tfrecord"], "num_segments": 3,
                                     "histograms": {"emotion": [1, 2], "arousal": [-1, 0]}},
                             "a": {"shards": [], "num_segments": 0, "session": None}},
                "excluded": {}, "missing_files": ["x é.wav"], "totals": {"segments": 3}}
    text = tfrecord_dir.manifest_text(manifest)
    assert json.loads(text) == manifest
    lines = text.splitlines()
    assert [line.split(":")[0].strip() for line in lines if line.startswith("    ")] == \
        ['"a"', '"b\\"2"']  # one line per speaker, sorted
    assert text.endswith("}\n")
    assert json.loads(tfrecord_dir.manifest_text({**manifest, "speakers": {}})) == \
        {**manifest, "speakers": {}}

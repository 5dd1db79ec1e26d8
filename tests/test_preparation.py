"""Invariants of corpus preparation (mmtl_tf.preparation, mmtl_tf.prepare).

Tiny hand-built corpus (`handmade_corpus`): 7 segments of at most 3 s from two speakers. The
transaction (failures, kills and refusals leave the committed preparation alone) is tested in
test_tfrecord_dir.py.
"""

import collections
import dataclasses
import glob
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import tensorflow as tf

import handmade_corpus
from conftest import run_command_in_process
from handmade_corpus import DURATIONS
from mmtl_tf import audio
from mmtl_tf import config as config_lib
from mmtl_tf import corpora
from mmtl_tf import features
from mmtl_tf import preparation
from mmtl_tf import shard_reader
from mmtl_tf import tfrecord_dir
from mmtl_tf import tfrecords

FEATURE_CONFIG = config_lib.FeatureConfig()
REPOSITORY = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_listing = handmade_corpus.listing
_waveform = handmade_corpus.waveform


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """(listing, output directory, manifest) of one uninterrupted prepare."""
    root = tmp_path_factory.mktemp("prepared")
    os.makedirs(root / "wav")
    listing = _listing(str(root / "wav"))
    output_dir = str(root / "tfrecords")
    manifest = preparation.prepare_corpus(listing, FEATURE_CONFIG, output_dir, show_progress=False)
    return listing, output_dir, manifest


def test_manifest_counts_segments_per_utterance_and_histograms(prepared):
    _, output_dir, manifest = prepared
    assert manifest == tfrecords.load_manifest(output_dir, FEATURE_CONFIG)
    assert manifest["totals"] == {"utterances": 4, "segments": 7}
    assert manifest["corpus"] == "handmade" and manifest["excluded"] == {"label xxx": 2}
    speaker_1f, speaker_1m = manifest["speakers"]["1F"], manifest["speakers"]["1M"]
    assert speaker_1f["num_segments"] == 2 and speaker_1m["num_segments"] == 5
    assert speaker_1f["shards"] == ["1F-00000-of-00001.tfrecord"]
    assert manifest["generation"] == "generation-0001"
    assert sorted(os.listdir(output_dir)) == [".lock", "generation-0001", "manifest.json"]
    assert speaker_1f["histograms"] == {"emotion": [1, 0, 1, 0], "valence": [1, 1, 0, 0],
                                        "arousal": [0, 0, 1, 1], "dominance": [0, 0, 0, 1]}
    assert speaker_1m["histograms"] == {"emotion": [3, 0, 0, 2], "valence": [0, 0, 2, 3],
                                        "arousal": [0, 2, 0, 3], "dominance": [2, 0, 3, 0]}
    # One of 1F's utterances has no dominance rating: the task is still available (any segment
    # rated), and that segment weighs 0 in its loss.
    assert manifest["aux_available"] == {"valence": True, "arousal": True, "dominance": True}


def test_shards_hold_the_feature_function_output(prepared):
    listing, output_dir, manifest = prepared
    by_id = {utterance.utterance_id: utterance for utterance in listing.utterances}
    for speaker in ("1F", "1M"):
        segments = list(shard_reader.speaker_dataset(output_dir, manifest, speaker,
                                                     FEATURE_CONFIG).as_numpy_iterator())
        grouped = collections.defaultdict(list)
        for segment in segments:
            grouped[segment["utterance_id"].decode()].append(segment)
        for utterance_id, stored in grouped.items():
            waveform = audio.read_wav(by_id[utterance_id].path, 16000)
            expected = features.waveform_features(waveform[np.newaxis], [waveform.shape[0]],
                                                  FEATURE_CONFIG)
            assert len(stored) == int(np.ceil(DURATIONS[utterance_id] / 3.0))
            assert [s["segment_index"] for s in stored] == list(range(len(stored)))
            np.testing.assert_array_equal([s["num_frames"] for s in stored],
                                          expected["num_frames"].numpy())
            np.testing.assert_allclose(np.stack([s["spectrogram"] for s in stored]),
                                       expected["spectrogram"].numpy(), rtol=2e-3, atol=2e-3)
            assert all(s["emotion"] == by_id[utterance_id].emotion for s in stored)


def test_shards_are_byte_identical_to_records_made_one_utterance_at_a_time(prepared):
    # The reference: the feature function on one utterance, its float32 values converted to
    # float16 by numpy inside serialize_segment, records written in listing order.
    listing, output_dir, manifest = prepared
    for speaker in ("1F", "1M"):
        expected = []
        for utterance in (u for u in listing.utterances if u.speaker == speaker):
            waveform = audio.read_wav(utterance.path, FEATURE_CONFIG.sample_rate)
            alone = features.waveform_features(waveform[np.newaxis], [waveform.shape[0]],
                                               FEATURE_CONFIG)
            expected += [tfrecords.serialize_segment(utterance, index, spectrogram, frames)
                         for index, (spectrogram, frames) in enumerate(zip(
                             alone["spectrogram"].numpy(), alone["num_frames"].numpy()))]
        stored = []  # the speaker's own run of records in each shard (speakers share shards)
        for path, (first, count) in zip(
                shard_reader.speaker_shard_paths(output_dir, manifest, speaker),
                shard_reader.speaker_record_runs(manifest, speaker)):
            stored += list(tf.data.TFRecordDataset(path).as_numpy_iterator())[first:][:count]
        assert stored == expected


def test_rerun_with_same_settings_skips_finished_speakers(prepared, tmp_path, capsys):
    listing, output_dir, manifest = prepared
    copy = str(tmp_path / "copy")
    shutil.copytree(output_dir, copy)
    capsys.readouterr()
    rerun = preparation.prepare_corpus(listing, FEATURE_CONFIG, copy, show_progress=False)
    assert rerun == manifest
    printed = capsys.readouterr().out
    assert "speaker 1F: already prepared" in printed and "speaker 1M: already prepared" in printed
    assert "corpus: handmade" in printed
    assert "warning: class 'hap' has no segment" in printed  # the corpus labels none 'hap'
    assert "class 'neu' has no" not in printed
    assert handmade_corpus.tree_bytes(copy) == handmade_corpus.tree_bytes(output_dir)


def test_changed_label_recomputes_only_that_speaker(prepared, tmp_path, capsys):
    listing, output_dir, _ = prepared
    copy = str(tmp_path / "copy")
    shutil.copytree(output_dir, copy)
    changed = [dataclasses.replace(u, emotion=1) if u.utterance_id == "1M_a" else u
               for u in listing.utterances]
    capsys.readouterr()
    manifest = preparation.prepare_corpus(dataclasses.replace(listing, utterances=changed),
                                          FEATURE_CONFIG, copy, show_progress=False)
    printed = capsys.readouterr().out
    assert "speaker 1F: already prepared" in printed and "speaker 1M: already" not in printed
    assert manifest["speakers"]["1M"]["histograms"]["emotion"] == [3, 2, 0, 0]


def test_audio_edited_in_place_recomputes_only_that_speaker(prepared, tmp_path, capsys):
    """Same length, other samples (a denoised or repaired wav): the speaker is recomputed and
    its shard holds the new audio's features."""
    listing, output_dir, _ = prepared
    copy = str(tmp_path / "copy")
    shutil.copytree(output_dir, copy)
    wav_copy = str(tmp_path / "wav")
    shutil.copytree(os.path.dirname(listing.utterances[0].path), wav_copy)
    moved = dataclasses.replace(listing, utterances=[
        dataclasses.replace(u, path=os.path.join(wav_copy, os.path.basename(u.path)))
        for u in listing.utterances])
    preparation.prepare_corpus(moved, FEATURE_CONFIG, copy, show_progress=False)  # new paths
    edited = next(u for u in moved.utterances if u.utterance_id == "1M_a")
    before = audio.read_wav(edited.path, 16000)
    audio.write_wav(edited.path, before[::-1].copy(), 16000)  # the same length, reversed
    stamp = os.stat(edited.path)
    os.utime(edited.path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns + 10**9))  # a later edit
    capsys.readouterr()
    manifest = preparation.prepare_corpus(moved, FEATURE_CONFIG, copy, show_progress=False)
    printed = capsys.readouterr().out
    assert "speaker 1F: already prepared" in printed and "speaker 1M: already" not in printed
    first = shard_reader.speaker_dataset(copy, manifest, "1M", FEATURE_CONFIG).take(1)
    stored = next(iter(first))["spectrogram"].numpy()
    def first_segment(waveform):
        return features.concatenated_features(waveform, [len(waveform)],
                                              FEATURE_CONFIG)["spectrogram"][0].numpy()

    np.testing.assert_allclose(stored, first_segment(before[::-1].copy()), atol=2e-3)
    assert np.abs(stored - first_segment(before)).max() > 0.1  # not the old audio's


def test_another_source_is_refused_and_a_reader_of_a_replaced_generation_is_told(
        prepared, tmp_path):
    """Two CSV files of one name make one corpus name (and default --tfrecord_dir): the
    manifest records the source, and another one is refused unless --overwrite. A process
    still holding the replaced manifest is told the data was prepared again."""
    listing, _, _ = prepared
    directory = str(tmp_path / "shards")
    first = preparation.prepare_corpus(listing, FEATURE_CONFIG, directory, show_progress=False,
                                       source="/data/a/metadata.csv")
    assert first["source"] == "/data/a/metadata.csv"
    assert all(len(entry["digest"]) == 64 for entry in first["speakers"].values())
    with pytest.raises(tfrecord_dir.TfrecordDirError,
                       match="source: requested '/data/b/metadata.csv', stored "
                             "'/data/a/metadata.csv'"):
        preparation.prepare_corpus(listing, FEATURE_CONFIG, directory, show_progress=False,
                                   source="/data/b/metadata.csv")
    changed = dataclasses.replace(listing, utterances=[
        dataclasses.replace(u, emotion=1) if u.utterance_id == "1M_a" else u
        for u in listing.utterances])
    second = preparation.prepare_corpus(changed, FEATURE_CONFIG, directory, show_progress=False,
                                        source="/data/b/metadata.csv", overwrite=True)
    assert second["speakers"]["1M"]["digest"] != first["speakers"]["1M"]["digest"]
    assert second["speakers"]["1F"]["digest"] == first["speakers"]["1F"]["digest"]
    with pytest.raises(FileNotFoundError, match="was prepared again while this process read it"):
        shard_reader.speaker_shard_paths(directory, first, "1M")


def test_small_shards_split_a_speaker_in_order(prepared, tmp_path):
    listing, output_dir, manifest = prepared
    small = preparation.prepare_corpus(listing, FEATURE_CONFIG, str(tmp_path), segments_per_shard=2,
                                       show_progress=False)
    assert small["speakers"]["1M"]["shards"] == [f"1M-0000{i}-of-00003.tfrecord" for i in range(3)]
    ids = [(s["utterance_id"], s["segment_index"]) for s in shard_reader.speaker_dataset(
        str(tmp_path), small, "1M", FEATURE_CONFIG).as_numpy_iterator()]
    assert ids == [(b"1M_a", 0), (b"1M_a", 1), (b"1M_b", 0), (b"1M_b", 1), (b"1M_b", 2)]
    # The same data in another layout: runs compare these digests, so they do not refuse it.
    assert ({speaker: entry["digest"] for speaker, entry in small["speakers"].items()}
            == {speaker: entry["digest"] for speaker, entry in manifest["speakers"].items()})


def test_speaker_in_two_sessions_is_refused(tmp_path):
    listing = _listing(str(tmp_path), durations={"1F_a": 1.0, "1F_b": 1.0})
    listing.utterances[1] = dataclasses.replace(listing.utterances[1], session="2")
    with pytest.raises(corpora.CorpusError, match="1F_b: speaker 1F is in sessions 1 and 2"):
        preparation.prepare_corpus(listing, FEATURE_CONFIG, str(tmp_path / "out"),
                                   show_progress=False)


_KILLING_HELPER = textwrap.dedent("""
    import json, os, signal, sys
    from mmtl_tf import config, corpora, preparation, tfrecords
    listing_file, output_dir, kill_after = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(listing_file) as handle:
        stored = json.load(handle)
    listing = corpora.CorpusListing(stored["corpus"], tuple(stored["class_names"]),
                                    [corpora.Utterance(**u) for u in stored["utterances"]])
    serialize, calls = tfrecords.serialize_segment, []
    def serialize_then_die(*args):
        calls.append(1)
        if len(calls) > kill_after:
            os.kill(os.getpid(), signal.SIGKILL)
        return serialize(*args)
    tfrecords.serialize_segment = serialize_then_die
    preparation.prepare_corpus(listing, config.FeatureConfig(), output_dir, segments_per_shard=2,
                               show_progress=False)
""")


def test_killed_prepare_leaves_no_manifest_and_rerun_gives_identical_shards(prepared, tmp_path,
                                                                              capsys):
    listing, output_dir, manifest = prepared
    listing_file = tmp_path / "listing.json"
    listing_file.write_text(json.dumps({
        "corpus": listing.corpus, "class_names": list(listing.class_names),
        "utterances": [dataclasses.asdict(u) for u in listing.utterances]}))
    helper = tmp_path / "helper.py"
    helper.write_text(_KILLING_HELPER)
    resumed = str(tmp_path / "resumed")
    # Two segments per shard keep 1F (2 segments) a unit of its own, apart from 1M's: die while
    # writing the third segment, i.e. in the middle of speaker 1M.
    killed = subprocess.run([sys.executable, str(helper), str(listing_file), resumed, "3"],
                            cwd=REPOSITORY, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "PYTHONPATH": REPOSITORY})
    assert killed.returncode == -9, killed.stderr[-2000:]
    assert "manifest.json" not in os.listdir(resumed)
    staged = sorted(os.listdir(os.path.join(resumed, "generation-0001")))
    assert "1M.done.json" not in staged
    assert "1F.done.json" in staged and "1F-00000-of-00001.tfrecord" in staged

    capsys.readouterr()
    rerun = preparation.prepare_corpus(listing, FEATURE_CONFIG, resumed, segments_per_shard=2,
                                       show_progress=False)
    assert "speaker 1F: already prepared" in capsys.readouterr().out
    uninterrupted = str(tmp_path / "uninterrupted")
    assert rerun == preparation.prepare_corpus(listing, FEATURE_CONFIG, uninterrupted,
                                               segments_per_shard=2, show_progress=False)
    assert handmade_corpus.tree_bytes(resumed) == handmade_corpus.tree_bytes(uninterrupted)


def test_audio_shorter_than_one_window_is_an_error_naming_the_file(tmp_path):
    listing = _listing(str(tmp_path), durations={"1F_a": 1.0, "1F_tiny": 0.03})
    with pytest.raises(audio.AudioError, match=r"1F_tiny\.wav.*shorter than one analysis window"):
        preparation.prepare_corpus(listing, FEATURE_CONFIG, str(tmp_path / "out"),
                                   show_progress=False)
    assert not glob.glob(str(tmp_path / "out" / "**" / "*.tfrecord"), recursive=True)


def test_wav_failing_inside_the_pipeline_raises_audio_error_naming_it(tmp_path):
    listing = _listing(str(tmp_path), durations={"1F_a": 1.0, "1F_b": 1.0})
    samples = np.zeros(16000, "<f4")
    samples[100] = np.nan  # a valid 32-bit float header; only decoding finds the NaN
    data = samples.tobytes()
    header = (b"RIFF" + struct.pack("<I", 36 + len(data)) + b"WAVE"
              + b"fmt " + struct.pack("<IHHIIHH", 16, 3, 1, 16000, 64000, 4, 32)
              + b"data" + struct.pack("<I", len(data)))
    (tmp_path / "1F_b.wav").write_bytes(header + data)
    with pytest.raises(audio.AudioError, match=r"1F_b\.wav.*NaN"):
        preparation.prepare_corpus(listing, FEATURE_CONFIG, str(tmp_path / "out"),
                                   show_progress=False)
    assert not os.path.exists(tmp_path / "out" / "manifest.json")


def test_cli_prepare_killed_after_a_finished_speaker_resumes_to_identical_shards(
        synthetic_shards, tmp_path, capsys):
    """SIGKILL `python -m mmtl_tf.prepare` once a speaker is staged, then rerun it to the end.

    20 segments per shard make each speaker a unit of its own (two never fit together), so the
    first done-record appears early, not just before the commit (with the default all 10 small
    speakers are one unit, and the kill could land after the commit point)."""
    reference_dir, feature_config, reference = synthetic_shards
    corpus_dir = os.path.join(os.path.dirname(reference_dir), "corpus")  # already generated
    tfrecord_dir = str(tmp_path / "shards")
    process = subprocess.Popen(
        [sys.executable, "-m", "mmtl_tf.prepare", "--corpus=synthetic", "--preset=smoke",
         "--synthetic_utterances_per_speaker=8", f"--corpus_dir={corpus_dir}",
         f"--tfrecord_dir={tfrecord_dir}", "--noprogress", "--segments_per_shard=20"],
        cwd=REPOSITORY, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": REPOSITORY})
    marker = os.path.join(tfrecord_dir, "generation-0001", "1F.done.json")
    deadline = time.monotonic() + 300
    while not os.path.exists(marker) and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)  # polling for the marker of progress, not a fixed wait
    process.send_signal(signal.SIGKILL)
    if process.wait() == -signal.SIGKILL:  # killed before it finished: nothing looks complete
        assert not os.path.exists(os.path.join(tfrecord_dir, "manifest.json"))
    assert os.path.exists(marker)

    from mmtl_tf.corpora import synthetic  # pylint: disable=import-outside-toplevel

    listing = synthetic.read_synthetic(corpus_dir, utterances_per_speaker=8, seed=0)
    capsys.readouterr()
    rerun = preparation.prepare_corpus(listing, feature_config, tfrecord_dir, segments_per_shard=20,
                                       show_progress=False)
    assert "speaker 1F: already prepared" in capsys.readouterr().out
    assert all(name.startswith(f"{speaker}-") for speaker, entry in rerun["speakers"].items()
               for name in entry["shards"])  # a unit per speaker (14-22 segments each)
    # The same segments as the uninterrupted default prepare, grouped into other files.
    assert handmade_corpus.without_layout(rerun) == handmade_corpus.without_layout(reference)
    assert (handmade_corpus.speaker_records(tfrecord_dir, rerun)
            == handmade_corpus.speaker_records(reference_dir, reference))


def _run_prepare(arguments, cwd):
    return subprocess.run([sys.executable, "-m", "mmtl_tf.prepare", *arguments],
                          cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": REPOSITORY})


def test_csv_corpus_with_44k_stereo_wav_goes_end_to_end_through_the_cli(tmp_path):
    pytest.importorskip("mmtl_tf.corpora.csv_manifest")
    os.makedirs(tmp_path / "wav")
    audio.write_wav(str(tmp_path / "wav" / "stereo.wav"), _waveform(4.0, 44100, 0, channels=2),
                    44100)
    audio.write_wav(str(tmp_path / "wav" / "mono.wav"), _waveform(2.0, 16000, 1), 16000)
    audio.write_wav(str(tmp_path / "wav" / "bored.wav"), _waveform(1.0, 16000, 2), 16000)
    (tmp_path / "corpus.csv").write_text("utterance_id,path,speaker,session,emotion,valence\n"
                                         "a1,wav/stereo.wav,alice,1,happy,4.5\n"
                                         "b1,wav/mono.wav,bob,1,sad,1.5\n"
                                         "c1,wav/bored.wav,carol,2,bored,2.0\n")
    output_dir = tmp_path / "records"
    result = _run_prepare(["--corpus=csv", "--csv=corpus.csv", f"--tfrecord_dir={output_dir}"],
                          cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "corpus: csv:corpus.csv" in result.stdout and "2/2" in result.stdout  # progress bar
    manifest = tfrecords.load_manifest(str(output_dir), FEATURE_CONFIG)
    assert manifest["class_names"] == ["neutral", "happy", "sad", "angry"]
    assert manifest["speakers"]["alice"]["num_segments"] == 2  # 4 s -> 2 segments of 2 s
    assert manifest["speakers"]["bob"]["num_segments"] == 1
    assert manifest["excluded"] == {"label bored": 1}
    assert manifest["aux_available"] == {"valence": True, "arousal": False, "dominance": False}
    assert "--corpus=csv" in (output_dir / manifest["generation"] / "prepare_flags.txt").read_text()
    segments = list(shard_reader.speaker_dataset(str(output_dir), manifest, "alice",
                                                 FEATURE_CONFIG).as_numpy_iterator())
    # 2 s at 16 kHz with a 640-sample window and 160-sample hop: 1 + (32000 - 640) // 160 frames.
    assert [segment["num_frames"] for segment in segments] == [197, 197]


def test_cli_reports_a_bad_wav_as_one_error_line(tmp_path, monkeypatch, capsys):
    """The command's body in this process (its start-up is checked by the CSV run above)."""
    pytest.importorskip("mmtl_tf.corpora.csv_manifest")
    (tmp_path / "broken.wav").write_bytes(b"RIFF not really a wav")
    (tmp_path / "corpus.csv").write_text("path,speaker,session,emotion\nbroken.wav,s1,1,sad\n")
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        run_command_in_process("prepare", "--corpus=csv", "--csv=corpus.csv", "--tfrecord_dir=out",
                               "--noprogress")
    assert exit_info.value.code == 1
    stderr = capsys.readouterr().err
    assert stderr.strip().splitlines()[-1].startswith("error: ")
    assert "broken.wav" in stderr and "Traceback" not in stderr
    assert not os.path.exists(tmp_path / "out" / "manifest.json")

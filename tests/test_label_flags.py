"""Label flags and a prepared --tfrecord_dir (mmtl_tf.label_flags): prepare never re-labels a
preparation without --overwrite, and main refuses a label flag its --tfrecord_dir contradicts."""

import json
import os

import numpy as np
import pytest
from absl import app
from absl import flags

import handmade_corpus
from conftest import completed_in_process
from mmtl_tf import audio, cli_app, cli_flags, flag_configs, label_flags


@pytest.fixture
def csv_corpus(tmp_path):
    """A CSV corpus of two speakers (one session) with arousal scores on an edge of a new bin."""
    root = tmp_path / "corpus"
    os.makedirs(root / "wavs")
    rows = ["path,speaker,session,emotion,arousal"]
    for index, (speaker, emotion, score) in enumerate(
            [("F", "sad", 2.5), ("F", "angry", 3.5), ("M", "sad", 2.5), ("M", "happy", 4.5)]):
        audio.write_wav(str(root / "wavs" / f"{index}.wav"), np.zeros(1600, np.float32), 16000)
        rows.append(f"wavs/{index}.wav,{speaker},s1,{emotion},{score}")
    path = root / "corpus.csv"
    path.write_text("\n".join(rows) + "\n")
    return str(path), str(tmp_path / "tfrecords")


def _prepare(csv_path, tfrecord_dir, *extra):
    return completed_in_process("prepare", "--corpus=csv", f"--csv={csv_path}",
                                f"--tfrecord_dir={tfrecord_dir}", "--noprogress", *extra)


def test_other_bin_edges_are_refused_naming_the_flag_and_overwrite_relabels(csv_corpus):
    csv_path, tfrecord_dir = csv_corpus
    assert _prepare(csv_path, tfrecord_dir).returncode == 0
    before = handmade_corpus.tree_bytes(tfrecord_dir)
    assert _prepare(csv_path, tfrecord_dir).returncode == 0  # the same flags: nothing to do
    refused = _prepare(csv_path, tfrecord_dir, "--csv_vad_bin_edges=3,4")
    assert refused.returncode == 1
    assert "--csv_vad_bin_edges: requested [3.0, 4.0], stored [2.0, 3.0, 4.0]" in refused.stderr
    assert "--overwrite" in refused.stderr and "another --tfrecord_dir" in refused.stderr
    assert handmade_corpus.tree_bytes(tfrecord_dir) == before  # not re-labelled
    assert _prepare(csv_path, tfrecord_dir, "--csv_vad_bin_edges=3,4", "--overwrite").returncode == 0
    manifest = json.load(open(os.path.join(tfrecord_dir, "manifest.json")))
    assert manifest["labelling"] == {"csv_vad_bin_edges": [3.0, 4.0], "csv_missing_vad": [],
                                     "csv_columns": []}


def _main_flags(*arguments):
    flag_values = flags.FlagValues()
    cli_app.parse(["main", *arguments], cli_flags.MAIN, flag_values)
    return flag_values


def test_main_refuses_a_label_flag_its_tfrecord_dir_contradicts(csv_corpus):
    csv_path, tfrecord_dir = csv_corpus
    assert _prepare(csv_path, tfrecord_dir, "--csv_missing_vad=NA,").returncode == 0
    manifest = json.load(open(os.path.join(tfrecord_dir, "manifest.json")))
    label_flags.check_prepared_labels(  # the values it was prepared with: accepted
        _main_flags("--csv_missing_vad=,na", "--csv_vad_bin_edges=2,3,4", "--corpus=csv",
                    f"--csv={csv_path}", "--classes=neutral,happy,sad,angry"), manifest, tfrecord_dir)
    csv = ("--corpus=csv", f"--csv={csv_path}")
    for arguments, expected in [
            ((*csv, "--csv_vad_bin_edges=3,4"), "--csv_vad_bin_edges=3,4, but "
             f"{tfrecord_dir} was prepared with --csv_vad_bin_edges=2,3,4; drop the flag"),
            ((*csv, "--csv_missing_vad=NA"), "--csv_missing_vad=na, but "
             f"{tfrecord_dir} was prepared with --csv_missing_vad=,na;"),
            (("--corpus=iemocap", "--corpus_dir=d"),
             f"--corpus=iemocap, but {tfrecord_dir} holds the csv:corpus.csv corpus"),
            (("--corpus=csv", "--csv=other.csv"), "--csv=other.csv, but "
             f"{tfrecord_dir} was prepared from {csv_path}"),
            ((*csv, "--classes=neutral,sad"), "--classes=neutral,sad, but"),
            (("--merge_excited",), f"--merge_excited does not apply to the csv:corpus.csv corpus "
             f"{tfrecord_dir} holds; drop it")]:
        with pytest.raises(app.UsageError) as raised:
            label_flags.check_prepared_labels(_main_flags(*arguments), manifest, tfrecord_dir)
        assert expected in str(raised.value)


@pytest.mark.parametrize("arguments, expected", [
    (("--corpus=synthetic", "--merge_excited"), {"merge_excited": True}),
    (("--corpus=iemocap", "--corpus_dir=d", "--scripts=all"),
     {"scripts": "all", "merge_excited": False}),
    (("--corpus=ravdess", "--corpus_dir=d", "--merge_calm", "--ravdess_intensity_bins=1,3"),
     {"merge_calm": True, "ravdess_intensity_bins": [1, 3]}),
    (("--corpus=csv", "--csv=c.csv", "--csv_columns=Arousal=Act"),
     {"csv_vad_bin_edges": [2.0, 3.0, 4.0], "csv_missing_vad": [],
      "csv_columns": [["arousal", "act"]]}),
])
def test_each_corpus_records_the_flags_that_decide_its_labels(arguments, expected):
    choice = flag_configs.corpus_choice_from_flags(_main_flags(*arguments))
    assert label_flags.labelling(choice) == expected

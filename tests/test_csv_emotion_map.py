"""A CSV corpus' own emotion labels (--csv_emotion_map, mmtl_tf.corpora.csv_labels).

Labels as real corpora spell them: upper case and IEMOCAP's short names match the classes as
they are; `excited` (IEMOCAP exported to CSV) or EmoDB's letters were only excluded, and
`--merge_excited` was refused for a CSV corpus without saying what to do instead.
"""

import json
import os

import numpy as np
import pytest
from absl import app

from mmtl_tf import audio, cli_flags, label_flags
from mmtl_tf.corpora import csv_manifest
from test_cli_flags import usage_error
from test_label_flags import _main_flags, _prepare


@pytest.fixture
def labelled(tmp_path):
    """A CSV of eight one-tenth-second wavs, labelled as corpora spell their labels."""
    labels = ["ANGRY", "hap", "excited", "Neutral", "W", "sadness", "fear", "EXC"]
    rows = ["path,speaker,session,emotion"]
    for index, label in enumerate(labels):
        audio.write_wav(str(tmp_path / f"{index}.wav"), np.zeros(1600, np.float32), 16000)
        rows.append(f"{index}.wav,{'FM'[index % 2]},s1,{label}")
    (tmp_path / "c.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return str(tmp_path / "c.csv")


def test_a_mapped_label_takes_its_class_and_the_others_are_counted(labelled):
    plain = csv_manifest.read_csv_manifest(labelled)
    assert [u.emotion for u in plain.utterances] == [3, 1, 0, 2]  # ANGRY hap Neutral sadness
    assert dict(plain.excluded) == {"label excited": 1, "label W": 1, "label fear": 1,
                                    "label EXC": 1}
    mapped = csv_manifest.read_csv_manifest(
        labelled, emotion_map={"Excited": "HAPPY", "exc": "happy", "w": "angry"})
    assert {u.utterance_id: u.emotion for u in mapped.utterances} == {
        "0": 3, "1": 1, "2": 1, "3": 0, "4": 3, "5": 2, "7": 1}
    assert dict(mapped.excluded) == {"label fear": 1}
    with pytest.raises(ValueError, match=r"--csv_emotion_map=fear=scared: 'scared' is not one "
                                         r"of --classes \(neutral, happy, sad, angry\)"):
        csv_manifest.read_csv_manifest(labelled, emotion_map={"fear": "scared"})


def test_the_flag_is_checked_recorded_and_compared(labelled, tmp_path):
    tfrecord_dir = str(tmp_path / "shards")
    csv = ("--corpus=csv", f"--csv={labelled}")
    for bad, expected in [("--csv_emotion_map=excited", "not label=class"),
                          ("--csv_emotion_map=exc=happy,EXC=sad", "label 'exc' is mapped twice"),
                          ("--csv_emotion_map=exc=joy", "'joy' is not one of --classes"),
                          ("--merge_excited", "--csv_emotion_map=excited=happy")]:
        message = usage_error(cli_flags.PREPARE, "--corpus=csv", f"--csv={labelled}", bad)
        assert expected in message, message  # at parse time: before any reading
    printed = _prepare(labelled, tfrecord_dir)  # without: recorded as before this flag existed
    assert printed.returncode == 0 and "--csv_emotion_map=<label>=<class>" in printed.stdout
    manifest = json.load(open(os.path.join(tfrecord_dir, "manifest.json")))
    assert "csv_emotion_map" not in manifest["labelling"]
    label_flags.check_prepared_labels(_main_flags(*csv, "--csv_emotion_map="), manifest,
                                      tfrecord_dir)
    with pytest.raises(app.UsageError, match="--csv_emotion_map=exc=happy, but .* was prepared "
                                             "with --csv_emotion_map=;"):
        label_flags.check_prepared_labels(_main_flags(*csv, "--csv_emotion_map=exc=happy"),
                                          manifest, tfrecord_dir)
    refused = _prepare(labelled, tfrecord_dir, "--csv_emotion_map=EXC=Happy")
    assert refused.returncode == 1 and "--csv_emotion_map: requested" in refused.stderr
    assert _prepare(labelled, tfrecord_dir, "--csv_emotion_map=EXC=Happy,excited=happy",
                    "--overwrite").returncode == 0
    manifest = json.load(open(os.path.join(tfrecord_dir, "manifest.json")))
    assert manifest["labelling"]["csv_emotion_map"] == [["exc", "happy"], ["excited", "happy"]]
    assert manifest["totals"]["utterances"] == 6
    label_flags.check_prepared_labels(
        _main_flags(*csv, "--csv_emotion_map=excited=happy,exc=HAPPY"), manifest, tfrecord_dir)
    assert usage_error(cli_flags.PREPARE, "--corpus=synthetic", "--csv_emotion_map=a=b") == (
        "--csv_emotion_map applies only to --corpus=csv (got --corpus=synthetic)")

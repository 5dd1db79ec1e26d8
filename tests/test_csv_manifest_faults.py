"""Tests of mmtl_tf.corpora.csv_manifest (and csv_columns, --csv_columns): a wav listed twice,
columns named otherwise, and the columns it does not read."""

import os

import numpy as np
import pytest
from absl import app
from absl import flags

from mmtl_tf import audio
from mmtl_tf import cli_app, cli_flags, flag_configs
from mmtl_tf import corpora
from mmtl_tf.corpora import csv_manifest


@pytest.fixture
def corpus(tmp_path):
    """A corpus folder with two 16 kHz wavs."""
    root = tmp_path / "corpus"
    os.makedirs(root / "wavs")
    for name in ("a", "b"):
        audio.write_wav(str(root / "wavs" / f"{name}.wav"), np.zeros(1600, np.float32), 16000)
    return root


def _write_manifest(folder, text, name="manifest.csv"):
    path = os.path.join(folder, name)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    return path


@pytest.mark.parametrize("second_path", ["wavs/a.wav", "./wavs/../wavs/a.wav", "{absolute}"])
def test_one_wav_under_two_ids_is_refused_naming_both_rows_and_the_path(corpus, second_path):
    second_path = second_path.format(absolute=corpus / "wavs" / "a.wav")
    path = _write_manifest(corpus, (
        "path,speaker,session,emotion,utterance_id\n"
        "wavs/a.wav,spk1,s1,sad,u1\n"
        "wavs/b.wav,spk2,s1,sad,u2\n"
        f"{second_path},spk3,s2,angry,u3\n"))
    with pytest.raises(corpora.CorpusError) as error:
        csv_manifest.read_csv_manifest(path)
    assert str(error.value).startswith(
        f"{path}: row 4: wav file {corpus / 'wavs' / 'a.wav'} is already listed by row 2 ")


def test_a_symbolic_link_to_a_listed_wav_is_the_same_audio(corpus):
    os.symlink(corpus / "wavs" / "a.wav", corpus / "wavs" / "link.wav")
    path = _write_manifest(corpus, "path,speaker,session,emotion,utterance_id\n"
                                   "wavs/a.wav,spk1,s1,sad,u1\nwavs/link.wav,spk2,s1,sad,u2\n")
    with pytest.raises(corpora.CorpusError, match=r"row 3: wav file .*link\.wav is already "
                                                  r"listed by row 2 as .*a\.wav"):
        csv_manifest.read_csv_manifest(path)


def test_distinct_wavs_under_distinct_ids_are_all_kept(corpus):
    path = _write_manifest(corpus, "path,speaker,session,emotion,utterance_id\n"
                                   "wavs/a.wav,spk1,s1,sad,u1\nwavs/b.wav,spk2,s1,sad,u2\n")
    assert [u.utterance_id for u in csv_manifest.read_csv_manifest(path).utterances] == [
        "u1", "u2"]


@pytest.mark.parametrize("synonym, task", [("activation", "arousal"), ("ACT", "arousal"),
                                           ("Val", "valence"), ("dom", "dominance")])
def test_a_vad_score_under_another_name_is_refused_naming_the_column(corpus, synonym, task):
    path = _write_manifest(corpus, f"path,speaker,session,emotion,{synonym}\n"
                                   f"wavs/a.wav,spk1,s1,sad,2.5\n")
    with pytest.raises(corpora.CorpusError) as error:
        csv_manifest.read_csv_manifest(path)
    message = str(error.value)
    assert message.startswith(f"{path}: column {synonym.lower()!r} looks like the {task} score")
    assert f"rename the column to {task}, or pass --csv_columns={task}={synonym.lower()}" in message


def test_a_synonym_beside_the_scores_own_column_is_only_not_read(corpus):
    path = _write_manifest(corpus, "path,speaker,session,emotion,arousal,act,Transcript,\n"
                                   "wavs/a.wav,spk1,s1,sad,4.5,2,oh no,\n")
    listing = csv_manifest.read_csv_manifest(path)
    assert listing.utterances[0].arousal == 3
    assert listing.notes == [f"{path}: columns not read: act, transcript"]


def test_without_unknown_columns_there_is_no_note(corpus):
    path = _write_manifest(corpus, "path,speaker,session,emotion,utterance_id\n"
                                   "wavs/a.wav,spk1,s1,sad,u1\n")
    assert csv_manifest.read_csv_manifest(path).notes == []


def test_a_column_map_reads_columns_the_csv_names_otherwise(corpus):
    path = _write_manifest(corpus, "Wav;spk;session;emotion;Activation;utt_id;gender\n"
                                   "wavs/a.wav;spk1;s1;sad;4.5;u1;F\n")  # semicolons too
    listing = csv_manifest.read_csv_manifest(path, column_map={
        "path": "WAV", "speaker": "spk", "arousal": "activation", "utterance_id": "utt_id"})
    (utterance,) = listing.utterances
    assert (utterance.utterance_id, utterance.path, utterance.speaker, utterance.arousal) == (
        "u1", str(corpus / "wavs" / "a.wav"), "spk1", 3)
    assert listing.notes == [f"{path}: columns not read: gender"]


@pytest.mark.parametrize("column_map, expected", [
    ({"arousal": "activation"}, "maps arousal to column 'activation', which the header lacks"),
    ({"arousal": "act"}, "maps arousal to column 'act', but the header has a column 'arousal' "
                         "too"),
])
def test_a_column_map_that_does_not_fit_the_header_is_an_error_naming_it(corpus, column_map,
                                                                         expected):
    path = _write_manifest(corpus, "path,speaker,session,emotion,arousal,act\n"
                                   "wavs/a.wav,spk1,s1,sad,4.5,2\n")
    with pytest.raises(corpora.CorpusError, match=f"^{path}: --csv_columns {expected}"):
        csv_manifest.read_csv_manifest(path, column_map=column_map)


@pytest.mark.parametrize("column_map, expected", [
    ({"loudness": "db"}, "'loudness' is not a column the reader reads"),
    ({"arousal": ""}, "not name=column"),
    ({"arousal": "x", "valence": "X"}, "column 'x' is given to two names"),
])
def test_a_bad_column_map_is_refused_before_the_file_is_read(corpus, column_map, expected):
    with pytest.raises(ValueError, match=expected):
        csv_manifest.read_csv_manifest(str(corpus / "absent.csv"), column_map=column_map)


def _parse(*arguments):
    flag_values = flags.FlagValues()
    cli_app.parse(["prog", *arguments], cli_flags.PREPARE, flag_values)
    return flag_values


def test_csv_columns_flag_reaches_the_reader_and_the_ignored_columns_are_printed(corpus,
                                                                                 capsys):
    path = _write_manifest(corpus, "path,speaker,session,emotion,activation,transcript\n"
                                   "wavs/a.wav,spk1,s1,sad,4.5,oh no\n")
    choice = flag_configs.corpus_choice_from_flags(_parse(
        "--corpus=csv", f"--csv={path}", "--csv_columns=Arousal=Activation"))
    assert choice.csv_columns == (("arousal", "activation"),)
    capsys.readouterr()
    (utterance,) = flag_configs.read_corpus(choice).utterances
    assert utterance.arousal == 3
    assert capsys.readouterr().out == f"{path}: columns not read: transcript\n"


@pytest.mark.parametrize("arguments, expected", [
    (("--corpus=csv", "--csv=x.csv", "--csv_columns=arousal"),
     "--csv_columns=arousal: not name=column (e.g. arousal=activation)"),
    (("--corpus=ravdess", "--corpus_dir=r", "--csv_columns=arousal=act"),
     "--csv_columns applies only to --corpus=csv (got --corpus=ravdess)"),
])
def test_a_bad_csv_columns_flag_is_one_line_naming_it(arguments, expected):
    with pytest.raises(app.UsageError) as raised:
        _parse(*arguments)
    assert str(raised.value) == expected

"""CSV manifests as real users write them (mmtl_tf.corpora.csv_manifest, csv_paths): file names in
another Unicode form than the disk's, paths written relative to the current directory, rows of
empty cells from spreadsheets, decimal commas in semicolon-separated files."""

import os
import unicodedata

import numpy as np
import pytest

from mmtl_tf import audio
from mmtl_tf import corpora
from mmtl_tf.corpora import csv_manifest


def _wav(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    audio.write_wav(str(path), np.zeros(1600, np.float32), 16000)


def _csv(folder, text, name="corpus.csv"):
    path = os.path.join(folder, name)
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)
    return path


def test_a_name_in_another_unicode_form_than_the_disk_reaches_its_file(tmp_path):
    # copied from macOS: the disk holds "a" + combining diaeresis; the typed CSV holds "ä"
    on_disk = unicodedata.normalize("NFD", "Jürgen ä.wav")
    _wav(tmp_path / "wavs" / on_disk)
    typed = unicodedata.normalize("NFC", "Jürgen ä.wav")
    assert typed != on_disk
    path = _csv(tmp_path, f"path,speaker,session,emotion\nwavs/{typed},s1,1,sad\n")
    (utterance,) = csv_manifest.read_csv_manifest(path).utterances
    assert utterance.path == str(tmp_path / "wavs" / on_disk)
    assert os.path.isfile(utterance.path)


def test_paths_relative_to_the_current_directory_are_refused_naming_both_folders(
        tmp_path, monkeypatch):
    _wav(tmp_path / "data" / "wavs" / "a.wav")
    os.makedirs(tmp_path / "data" / "meta")
    path = _csv(tmp_path / "data" / "meta", "path,speaker,session,emotion\n"
                                            "data/wavs/a.wav,s1,1,sad\n")
    monkeypatch.chdir(tmp_path)
    for skip_missing in (False, True):  # skipping would skip every wav of the corpus
        with pytest.raises(corpora.CorpusError) as error:
            csv_manifest.read_csv_manifest(path, skip_missing=skip_missing)
        message = str(error.value)
        assert message.startswith(f"{path}: row 2: wav file "
                                  f"{tmp_path / 'data' / 'meta' / 'data' / 'wavs' / 'a.wav'} is "
                                  f"missing, but {tmp_path / 'data' / 'wavs' / 'a.wav'} exists")
        assert f"relative to the CSV's folder ({tmp_path / 'data' / 'meta'})" in message


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_rows_of_empty_cells_are_blank_lines(tmp_path, delimiter):
    _wav(tmp_path / "a.wav")
    _wav(tmp_path / "b.wav")
    rows = ["path,speaker,session,emotion", "a.wav,s1,1,sad", ",,,", "b.wav,s2,1,angry", ",,,"]
    path = _csv(tmp_path, "\r\n".join(row.replace(",", delimiter) for row in rows) + "\r\n")
    listing = csv_manifest.read_csv_manifest(path)
    assert [(u.speaker, u.emotion) for u in listing.utterances] == [("s1", 2), ("s2", 3)]


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_decimal_commas_of_a_semicolon_or_tab_file_are_read_as_decimals(tmp_path, delimiter):
    _wav(tmp_path / "a.wav")
    _wav(tmp_path / "b.wav")
    rows = [["path", "speaker", "session", "emotion", "valence", "arousal"],
            ["a.wav", "s1", "1", "sad", "3,5", "1,99"], ["b.wav", "s2", "1", "sad", "4", ",5"]]
    path = _csv(tmp_path, "\n".join(delimiter.join(row) for row in rows) + "\n")
    listing = csv_manifest.read_csv_manifest(path)
    assert [(u.valence, u.arousal) for u in listing.utterances] == [(2, 0), (3, 0)]


def test_a_quoted_decimal_comma_of_a_comma_separated_file_is_still_refused(tmp_path):
    _wav(tmp_path / "a.wav")
    path = _csv(tmp_path, 'path,speaker,session,emotion,valence\na.wav,s1,1,sad,"3,5"\n')
    with pytest.raises(corpora.CorpusError, match=r"row 2, column 'valence': '3,5' is not a "
                                                  r"number"):
        csv_manifest.read_csv_manifest(path)


def test_csv_name_flag_names_the_corpus_and_its_default_folder(tmp_path):
    # two corpora whose CSV is metadata.csv were both "csv:metadata.csv": their runs shared a row
    from absl import app, flags  # pylint: disable=import-outside-toplevel
    from mmtl_tf import cli_app, cli_flags, flag_configs  # pylint: disable=import-outside-toplevel

    def choice(*arguments):
        flag_values = flags.FlagValues()
        cli_app.parse(["prog", *arguments], cli_flags.PREPARE, flag_values)
        return flag_configs.corpus_choice_from_flags(flag_values)

    _wav(tmp_path / "a.wav")
    path = _csv(tmp_path, "path,speaker,session,emotion\na.wav,s1,1,sad\n", "metadata.csv")
    named = choice("--corpus=csv", f"--csv={path}", "--csv_name=crema_d-v1")
    assert flag_configs.read_corpus(named).corpus == "csv:crema_d-v1"  # "csv:" keeps its caveat
    assert flag_configs.default_tfrecord_dir(named) == os.path.join("tfrecords", "crema_d-v1")
    assert flag_configs.read_corpus(choice("--corpus=csv", f"--csv={path}",
                                           "--csv_name=iemocap")).corpus == "csv:iemocap"
    unnamed = choice("--corpus=csv", f"--csv={path}")
    assert flag_configs.read_corpus(unnamed).corpus == "csv:metadata.csv"
    for arguments, message in (
            (("--corpus=csv", f"--csv={path}", "--csv_name=../x"), "--csv_name: use letters"),
            (("--corpus=ravdess", "--corpus_dir=r", "--csv_name=x"),
             "--csv_name applies only to --corpus=csv")):
        with pytest.raises(app.UsageError, match=message):
            choice(*arguments)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_excel_unicode_text_utf16_with_its_mark_is_read(tmp_path, encoding):
    name = "Zoë ñ.wav"
    _wav(tmp_path / name)
    text = f"path\tspeaker\tsession\temotion\tvalence\r\n{name}\ts1\t1\tSad\t2,5\r\n"
    mark = "\ufeff".encode(encoding)
    (tmp_path / "corpus.csv").write_bytes(mark + text.encode(encoding))
    (utterance,) = csv_manifest.read_csv_manifest(str(tmp_path / "corpus.csv")).utterances
    assert (utterance.path, utterance.emotion, utterance.valence) == (
        str(tmp_path / name), 2, 1)


@pytest.mark.parametrize("column,first,second", [("speaker", "011", "11"), ("speaker", "Spk1", "spk1"),
                                                 ("session", "01", "1")])
def test_ids_that_differ_only_in_case_or_leading_zeros_are_refused(tmp_path, column, first, second):
    # a spreadsheet that dropped the zeros in some rows: one speaker (session) would become two
    for name in ("a", "b", "c"):
        _wav(tmp_path / f"{name}.wav")
    rows = {"speaker": (("a", first, "1"), ("b", second, "1"), ("c", "x9", "2")),
            "session": (("a", "s1", first), ("b", "s2", second), ("c", "s3", "2"))}[column]
    path = _csv(tmp_path, "path,speaker,session,emotion\n" + "".join(
        f"{name}.wav,{speaker},{session},sad\n" for name, speaker, session in rows))
    listing = csv_manifest.read_csv_manifest(path)
    with pytest.raises(corpora.CorpusError, match=rf"{column} ids '{first}' and '{second}' differ "
                                                  rf"only in case or leading zeros"):
        corpora.check_listing(listing)
    fixed = {"speaker": (("a", first, "1"), ("b", second + "2", "1"), ("c", "x9", "2")),
             "session": (("a", "s1", first), ("b", "s2", second + "2"), ("c", "s3", "2"))}[column]
    corpora.check_listing(csv_manifest.read_csv_manifest(_csv(
        tmp_path, "path,speaker,session,emotion\n" + "".join(
            f"{name}.wav,{speaker},{session},sad\n" for name, speaker, session in fixed), "ok.csv")))

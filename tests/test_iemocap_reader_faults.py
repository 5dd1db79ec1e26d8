"""Faults of an IEMOCAP release tree (mmtl_tf.corpora.iemocap): each fails naming the folder,
file:line or wav, with the offending text; a damaged line is never skipped.
"""

import os

import pytest

from mmtl_tf import audio
from mmtl_tf import corpora
from mmtl_tf.corpora import iemocap

_HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]"
_GOOD_LINE = "[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]"


def _release(root, summary_lines, dialog="Ses01F_impro01"):
    """A one-dialog IEMOCAP tree whose label file holds `summary_lines` (each with evaluator lines).

    Returns (root, label file path). The summary line i sits on line 3 + 3 * i.
    """
    label_dir = os.path.join(root, "Session1", "dialog", "EmoEvaluation")
    wav_dir = os.path.join(root, "Session1", "sentences", "wav", dialog)
    os.makedirs(label_dir, exist_ok=True)
    os.makedirs(wav_dir, exist_ok=True)
    lines = [_HEADER, ""]
    for line in summary_lines:
        lines += [line, "C-E2:\tNeutral;\t()", ""]
    label_path = os.path.join(label_dir, f"{dialog}.txt")
    with open(label_path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    for number in range(10):
        for gender in "FM":
            open(os.path.join(wav_dir, f"{dialog}_{gender}{number:03d}.wav"), "wb").close()
    return str(root), label_path


def test_missing_corpus_folder_error_names_folder_and_expected_layout(tmp_path):
    root = str(tmp_path / "IEMOCAP_full_release")
    with pytest.raises(corpora.CorpusError) as error:
        iemocap.read_iemocap(root)
    message = str(error.value)
    assert root in message
    assert "Session1..Session5" in message and "dialog/EmoEvaluation" in message
    assert "sentences/wav" in message


def test_corpus_path_that_is_a_file_error_names_it(tmp_path):
    path = tmp_path / "IEMOCAP_full_release.tar.gz"
    path.write_bytes(b"\x1f\x8b")
    with pytest.raises(corpora.CorpusError, match="Session1..Session5") as error:
        iemocap.read_iemocap(str(path))
    assert str(path) in str(error.value)


def test_folder_without_sessions_error_names_folder_and_expected_layout(tmp_path):
    os.makedirs(tmp_path / "downloads" / "IEMOCAP_full_release" / "Session1")
    root = str(tmp_path / "downloads")  # one level too high
    with pytest.raises(corpora.CorpusError, match="no SessionN folder") as error:
        iemocap.read_iemocap(root)
    assert root in str(error.value) and "dialog/EmoEvaluation" in str(error.value)


def test_session_without_emoevaluation_error_names_session_and_expected_layout(tmp_path):
    _release(tmp_path, [_GOOD_LINE])
    os.makedirs(tmp_path / "Session2" / "dialog" / "wav")
    with pytest.raises(corpora.CorpusError) as error:
        iemocap.read_iemocap(str(tmp_path))
    message = str(error.value)
    assert str(tmp_path / "Session2") in message and "dialog/EmoEvaluation" in message
    assert "Session1..Session5" in message


@pytest.mark.parametrize("name", ["session2", "Session_2", "SESSION 2", "Session-02",
                                  "Session02"])
def test_a_misnamed_session_folder_is_an_error_naming_it_and_the_release_name(tmp_path, name):
    _release(tmp_path, [_GOOD_LINE])
    os.makedirs(tmp_path / name / "dialog" / "EmoEvaluation")
    with pytest.raises(corpora.CorpusError) as error:
        iemocap.read_iemocap(str(tmp_path))
    assert str(error.value).startswith(f"{tmp_path / name}: looks like a session folder")
    assert "(expected Session2); rename it to Session2" in str(error.value)


def test_entries_beside_the_sessions_that_are_no_session_folder_are_ignored(tmp_path):
    _release(tmp_path, [_GOOD_LINE])
    for folder in ("Documentation", "sessions_notes", ".Session2"):
        os.makedirs(tmp_path / folder)
    for name in ("._Session1", "Session2.tar.gz"):  # files, not folders
        (tmp_path / name).write_bytes(b"\0")
    (utterance,) = iemocap.read_iemocap(str(tmp_path)).utterances
    assert (utterance.utterance_id, utterance.session) == ("Ses01F_impro01_F000", "1")


def test_label_file_with_a_foreign_name_error_names_it(tmp_path):
    root, label_path = _release(tmp_path, [_GOOD_LINE])
    stray = os.path.join(os.path.dirname(label_path), "notes.txt")
    with open(stray, "w") as handle:
        handle.write("my notes\n")
    with pytest.raises(corpora.CorpusError, match="not an IEMOCAP dialog label file") as error:
        iemocap.read_iemocap(root)
    assert stray in str(error.value)


def test_label_file_that_is_not_text_error_names_it(tmp_path):
    root, label_path = _release(tmp_path, [_GOOD_LINE])
    with open(label_path, "ab") as handle:
        handle.write(b"\xff\xfe\x80binary")
    with pytest.raises(corpora.CorpusError) as error:
        iemocap.read_iemocap(root)
    assert label_path in str(error.value)


@pytest.mark.parametrize("bad_line", [
    "[6.2901 - 8.2357]\tSes01F_impro01_F001\tneu\t[2.5000, 2.5000]",         # two scores
    "[6.2901 - 8.2357]\tSes01F_impro01_F001\t[2.5000, 2.5000, 2.5000]",       # no label
    "[6.2901 - 8.2357\tSes01F_impro01_F001\tneu\t[2.5000, 2.5000, 2.5000]",   # no ]
    "[6.2901 8.2357]\tSes01F_impro01_F001\tneu\t[2.5000, 2.5000, 2.5000]",    # no -
    "[6.2901 - 8.2357]\tSes01F_impro01_F001\tneu\t2.5000, 2.5000, 2.5000",    # no brackets
    "[6.2901 - 8.2357]\tSes01F_impro01_F001\tneu\t[2.5000, 2.5000, 2.5000] x",
    "[6.2901 - 8.2357]Ses01F_impro01_F001\tneu\t[2.5000, 2.5000, 2.5000]",    # no separator
    "[",
    "6.2901 - 8.2357]\tSes01F_impro01_F001\tneu\t[2.5000, 2.5000, 2.5000]",   # lost its [
    "%[6.2901 - 8.2357]\tSes01F_impro01_F001\tneu\t[2.5000, 2.5000, 2.5000]",
    "Ses01F_impro01_F001\tneu\t[2.5000, 2.5000, 2.5000]",                      # no times
    "[6.2901 - 8.2357]\tSes01F_impro01_F01\tneu\t[2.5000, 2.5000, 2.5000]",   # id: two digits
    "[6.2901 - 8.2357]\tSes01F_impro02_F001\tneu\t[2.5000, 2.5000, 2.5000]",  # other dialog
])
def test_malformed_summary_line_error_names_file_line_and_the_line(tmp_path, bad_line):
    root, label_path = _release(tmp_path, [_GOOD_LINE, bad_line])
    with pytest.raises(corpora.CorpusError) as error:
        iemocap.read_iemocap(root)
    message = str(error.value)
    assert f"{label_path}:6:" in message
    assert bad_line.strip() in message


def test_unknown_label_error_names_file_line_label_and_the_line(tmp_path):
    bad_line = "[6.2901 - 8.2357]\tSes01F_impro01_F001\tcalm\t[2.5000, 2.5000, 2.5000]"
    root, label_path = _release(tmp_path, [_GOOD_LINE, bad_line])
    with pytest.raises(corpora.CorpusError, match="unknown emotion label 'calm'") as error:
        iemocap.read_iemocap(root)
    assert f"{label_path}:6:" in str(error.value) and bad_line in str(error.value)


@pytest.mark.parametrize("scores, problem", [
    ("0.0000, 2.0000, 2.0000", "valence score 0.0000 is outside"),
    ("2.0000, 6.0000, 2.0000", "arousal score 6.0000 is outside"),
    ("2.0000, 2.0000, 17.5", "dominance score 17.5 is outside"),
    ("-1.0000, 2.0000, 2.0000", "valence score -1.0000 is outside"),
    ("2.0000, nan, 2.0000", "arousal score 'nan' is not a number"),
    ("2.0000, 2.0000, 1e400", "dominance score '1e400' is not a number"),
    ("2,5000, 2.0000, 2.0000", "malformed summary line"),
])
def test_vad_score_out_of_range_error_names_file_line_score_and_the_line(tmp_path, scores,
                                                                         problem):
    bad_line = f"[6.2901 - 8.2357]\tSes01F_impro01_F001\tneu\t[{scores}]"
    root, label_path = _release(tmp_path, [_GOOD_LINE, bad_line])
    with pytest.raises(corpora.CorpusError, match=problem) as error:
        iemocap.read_iemocap(root)
    assert f"{label_path}:6:" in str(error.value) and bad_line in str(error.value)


def test_missing_wav_of_a_kept_utterance_error_names_label_line_and_wav(tmp_path):
    root, label_path = _release(tmp_path, [_GOOD_LINE])
    wav_path = os.path.join(root, "Session1", "sentences", "wav", "Ses01F_impro01",
                            "Ses01F_impro01_F000.wav")
    os.remove(wav_path)
    with pytest.raises(corpora.CorpusError) as error:
        iemocap.read_iemocap(root)
    assert f"{label_path}:3:" in str(error.value) and wav_path in str(error.value)


def test_evaluator_header_and_blank_lines_are_not_summary_lines(tmp_path):
    root, label_path = _release(tmp_path, [_GOOD_LINE])
    with open(label_path, "a", encoding="utf-8") as handle:
        handle.write("C-E3:\tAnger; Frustration;\t(voice rises)\nA-E1:\tval 3; act 2; dom  2;\t()\n"
                     "C-F1:\tNeutral;\t()\nA-M1:\tval 2; act 3; dom  3;\t()\n\n   \n")
    listing = iemocap.read_iemocap(root)
    assert [u.utterance_id for u in listing.utterances] == ["Ses01F_impro01_F000"]


def test_wav_faults_inside_an_iemocap_tree_name_the_wav(tmp_path):
    """The reader checks existence only; decoding (prepare) names the bad wav."""
    root, _ = _release(tmp_path, [_GOOD_LINE])
    (utterance,) = iemocap.read_iemocap(root).utterances
    with pytest.raises(audio.AudioError, match="empty") as error:  # _release writes empty wavs
        audio.read_wav(utterance.path)
    assert utterance.path in str(error.value)


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_a_directory_or_fifo_named_like_a_wav_is_not_reported_missing(tmp_path, kind):
    root, label_path = _release(tmp_path, [_GOOD_LINE])
    wav_path = os.path.join(root, "Session1", "sentences", "wav", "Ses01F_impro01",
                            "Ses01F_impro01_F000.wav")
    os.remove(wav_path)
    if kind == "directory":
        os.mkdir(wav_path)
    else:
        os.mkfifo(wav_path)
    for skip_missing in (False, True):
        with pytest.raises(corpora.CorpusError, match="is not a regular file") as error:
            iemocap.read_iemocap(root, skip_missing=skip_missing)
        assert f"{label_path}:3:" in str(error.value) and wav_path in str(error.value)


def test_an_unreadable_label_file_is_an_error_naming_it(tmp_path, monkeypatch):
    root, label_path = _release(tmp_path, [_GOOD_LINE])

    def refuse(name, *args, **kwargs):
        raise PermissionError(13, "Permission denied", name)

    monkeypatch.setattr(iemocap, "open", refuse, raising=False)
    with pytest.raises(corpora.CorpusError, match="cannot read the label file .Permission") \
            as error:
        iemocap.read_iemocap(root)
    assert label_path in str(error.value)

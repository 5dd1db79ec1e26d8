"""Tests of mmtl_tf.corpora.iemocap on small hand-written trees in IEMOCAP's release layout."""

import collections
import os
import shutil

import numpy as np
import pytest

from mmtl_tf import audio
from mmtl_tf import corpora
from mmtl_tf.corpora import iemocap

HEADER = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]"

# dialog -> (session number, [(utterance id, label, "V, A, D")]).
DIALOGS = {
    "Ses01F_impro01": (1, [
        ("Ses01F_impro01_F000", "neu", "2.0000, 3.0000, 4.0000"),
        ("Ses01F_impro01_M000", "ang", "1.9999, 5.5000, 2.5000"),
        ("Ses01F_impro01_F001", "exc", "3.5000, 3.5000, 3.5000"),
        ("Ses01F_impro01_M001", "xxx", "2.5000, 2.5000, 2.5000"),
        ("Ses01F_impro01_F002", "fru", "2.0000, 3.6667, 3.3333"),
        ("Ses01F_impro01_M002", "hap", "4.5000, 3.0000, 2.0000"),
    ]),
    "Ses01F_script01_1": (1, [
        ("Ses01F_script01_1_F000", "sad", "1.5000, 1.5000, 1.5000"),
        ("Ses01F_script01_1_M000", "neu", "3.0000, 2.0000, 2.5000"),
    ]),
    "Ses03M_impro05a": (3, [
        ("Ses03M_impro05a_F000", "sad", "1.0000, 2.0000, 2.0000"),
        ("Ses03M_impro05a_M001", "hap", "4.0000, 4.0000, 4.0000"),
    ]),
}


def _block(utterance_id, label, scores, start):
    """One utterance block: summary line, per-evaluator lines, blank line."""
    return [f"[{start:.4f} - {start + 1.5:.4f}]\t{utterance_id}\t{label}\t[{scores}]",
            "C-E2:\tNeutral;\t()", "C-E3:\tAnger;\t(irritated)",
            "A-E3:\tval 3; act 2; dom  2;\t()", ""]


def _write_label_file(root, dialog, line_ending="\n"):
    session, utterances = DIALOGS[dialog]
    lines = [HEADER, ""]
    for number, (utterance_id, label, scores) in enumerate(utterances):
        lines += _block(utterance_id, label, scores, 6.2901 + 3 * number)
    path = os.path.join(root, f"Session{session}", "dialog", "EmoEvaluation", f"{dialog}.txt")
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(line_ending.join(lines))
    return path


@pytest.fixture(scope="module")
def wav_template(tmp_path_factory):
    """A real 0.5 s, 16 kHz mono noise wav, copied to every utterance path."""
    path = str(tmp_path_factory.mktemp("template") / "noise.wav")
    noise = np.random.default_rng(0).uniform(-0.1, 0.1, 8000).astype(np.float32)
    audio.write_wav(path, noise, 16000)
    return path


def _wav_path(root, dialog, utterance_id):
    session = DIALOGS[dialog][0]
    return os.path.join(root, f"Session{session}", "sentences", "wav", dialog,
                        f"{utterance_id}.wav")


@pytest.fixture
def release(tmp_path, wav_template):
    """An IEMOCAP-layout tree with the traps of iemocap_release.md; returns its root."""
    root = str(tmp_path / "IEMOCAP_full_release")
    for session in (1, 3):
        label_dir = os.path.join(root, f"Session{session}", "dialog", "EmoEvaluation")
        os.makedirs(os.path.join(label_dir, "Categorical"))
        os.makedirs(os.path.join(label_dir, "Attribute"))
    os.makedirs(os.path.join(root, "Documentation"))
    for dialog, (_, utterances) in DIALOGS.items():
        # CRLF line endings in one file, as in copies that went through Windows.
        _write_label_file(root, dialog, "\r\n" if dialog == "Ses03M_impro05a" else "\n")
        os.makedirs(os.path.dirname(_wav_path(root, dialog, "x")))
        for utterance_id, _, _ in utterances:
            shutil.copy(wav_template, _wav_path(root, dialog, utterance_id))
    label_dir = os.path.join(root, "Session1", "dialog", "EmoEvaluation")
    garbage = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        \xff\xfe[\x80\x81"
    with open(os.path.join(label_dir, "._Ses01F_impro01.txt"), "wb") as handle:
        handle.write(garbage)
    with open(os.path.join(os.path.dirname(_wav_path(root, "Ses01F_impro01", "x")),
                           "._Ses01F_impro01_F000.wav"), "wb") as handle:
        handle.write(garbage)
    # A per-evaluator file; parsing it would fail on its malformed "[" line and duplicate ids.
    with open(os.path.join(label_dir, "Categorical", "Ses01F_impro01_e2_cat.txt"), "w") as handle:
        handle.write("Ses01F_impro01_F000 :Neutral state; ()\n[broken\n"
                     "[6.2901 - 8.2357]\tSes01F_impro01_F000\tneu\t[2.5000, 2.5000, 2.5000]\n")
    return root


def _by_id(listing):
    return {utterance.utterance_id: utterance for utterance in listing.utterances}


def test_default_keeps_improvised_four_class_utterances_sorted(release):
    listing = iemocap.read_iemocap(release)
    assert listing.corpus == "iemocap"
    assert listing.class_names == ("neu", "hap", "sad", "ang")
    assert [u.utterance_id for u in listing.utterances] == [
        "Ses01F_impro01_F000", "Ses01F_impro01_M000", "Ses01F_impro01_M002",
        "Ses03M_impro05a_F000", "Ses03M_impro05a_M001"]
    assert [u.emotion for u in listing.utterances] == [0, 3, 1, 2, 1]
    assert listing.missing_files == []


def test_speaker_comes_from_utterance_id_not_dialog(release):
    utterances = _by_id(iemocap.read_iemocap(release))
    assert (utterances["Ses01F_impro01_F000"].speaker, utterances["Ses01F_impro01_F000"].session) \
        == ("1F", "1")
    assert (utterances["Ses01F_impro01_M000"].speaker, utterances["Ses01F_impro01_M000"].session) \
        == ("1M", "1")
    assert utterances["Ses03M_impro05a_F000"].speaker == "3F"
    assert utterances["Ses03M_impro05a_M001"].speaker == "3M"
    assert iemocap.read_iemocap(release).speakers() == {"1F": "1", "1M": "1", "3F": "3", "3M": "3"}


def test_wav_path_is_under_sentences_wav_of_the_dialog_with_letter_suffix(release):
    utterance = _by_id(iemocap.read_iemocap(release))["Ses03M_impro05a_F000"]
    assert utterance.path == os.path.join(
        os.path.abspath(release), "Session3", "sentences", "wav", "Ses03M_impro05a",
        "Ses03M_impro05a_F000.wav")
    assert os.path.isabs(utterance.path)


def test_vad_scores_on_bin_edges_go_to_upper_bin(release):
    utterances = _by_id(iemocap.read_iemocap(release))
    first = utterances["Ses01F_impro01_F000"]  # 2.0000, 3.0000, 4.0000
    assert (first.valence, first.arousal, first.dominance) == (1, 2, 3)
    second = utterances["Ses01F_impro01_M000"]  # 1.9999, 5.5000, 2.5000
    assert (second.valence, second.arousal, second.dominance) == (0, 3, 1)


def test_every_excluded_utterance_is_counted_by_reason(release):
    listing = iemocap.read_iemocap(release)
    assert listing.excluded == collections.Counter(
        {"scripted dialog": 2, "label exc": 1, "label xxx": 1, "label fru": 1})
    total_summary_lines = sum(len(utterances) for _, utterances in DIALOGS.values())
    assert len(listing.utterances) + sum(listing.excluded.values()) == total_summary_lines


def test_scripts_all_adds_scripted_dialogs_and_scripted_excludes_improvised(release):
    all_ids = [u.utterance_id for u in iemocap.read_iemocap(release, scripts="all").utterances]
    assert all_ids == [
        "Ses01F_impro01_F000", "Ses01F_impro01_M000", "Ses01F_impro01_M002",
        "Ses01F_script01_1_F000", "Ses01F_script01_1_M000",
        "Ses03M_impro05a_F000", "Ses03M_impro05a_M001"]
    scripted = iemocap.read_iemocap(release, scripts="scripted")
    assert [u.utterance_id for u in scripted.utterances] == [
        "Ses01F_script01_1_F000", "Ses01F_script01_1_M000"]
    assert scripted.excluded["improvised dialog"] == 8
    assert _by_id(scripted)["Ses01F_script01_1_M000"].speaker == "1M"


def test_unknown_scripts_value_names_the_flag(release):
    with pytest.raises(ValueError, match="--scripts"):
        iemocap.read_iemocap(release, scripts="impro")


def test_merge_excited_turns_exc_into_hap(release):
    listing = iemocap.read_iemocap(release, merge_excited=True)
    excited = _by_id(listing)["Ses01F_impro01_F001"]
    assert excited.emotion == 1
    assert (excited.valence, excited.arousal, excited.dominance) == (2, 2, 2)
    assert "label exc" not in listing.excluded
    assert len(listing.utterances) == 6


def test_class_names_order_defines_the_emotion_index(release):
    listing = iemocap.read_iemocap(release, class_names=("ang", "neu"))
    assert listing.class_names == ("ang", "neu")
    assert [(u.utterance_id, u.emotion) for u in listing.utterances] == [
        ("Ses01F_impro01_F000", 1), ("Ses01F_impro01_M000", 0)]
    assert listing.excluded["label hap"] == 2
    assert listing.excluded["label sad"] == 1


def test_class_name_must_be_an_iemocap_label(release):
    with pytest.raises(ValueError, match="'happy'"):
        iemocap.read_iemocap(release, class_names=("neu", "happy"))


def _replace_in_label_file(root, dialog, old, new):
    path = os.path.join(root, f"Session{DIALOGS[dialog][0]}", "dialog", "EmoEvaluation",
                        f"{dialog}.txt")
    with open(path, newline="") as handle:
        text = handle.read()
    assert old in text
    with open(path, "w", newline="") as handle:
        handle.write(text.replace(old, new))


def test_runs_of_spaces_between_fields_are_accepted(release):
    _replace_in_label_file(release, "Ses01F_impro01",
                           "]\tSes01F_impro01_F000\tneu\t[",
                           "]  \t Ses01F_impro01_F000   neu \t [")
    utterance = _by_id(iemocap.read_iemocap(release))["Ses01F_impro01_F000"]
    assert (utterance.emotion, utterance.valence, utterance.arousal) == (0, 1, 2)


def test_duplicate_utterance_id_error_names_both_places(release):
    _replace_in_label_file(release, "Ses01F_impro01", "Ses01F_impro01_M001", "Ses01F_impro01_M000")
    with pytest.raises(corpora.CorpusError) as error:
        iemocap.read_iemocap(release)
    message = str(error.value)
    assert "Ses01F_impro01.txt:18" in message and "Ses01F_impro01.txt:8" in message
    assert "Ses01F_impro01_M000" in message


def test_utterance_of_another_dialog_is_rejected(release):
    _replace_in_label_file(release, "Ses03M_impro05a", "Ses03M_impro05a_M001",
                           "Ses03M_impro05b_M001")
    with pytest.raises(corpora.CorpusError, match=r"Ses03M_impro05a\.txt:8: .*does not belong"):
        iemocap.read_iemocap(release)


def test_missing_wav_error_names_utterance_path_and_flag(release):
    missing = _wav_path(release, "Ses01F_impro01", "Ses01F_impro01_M002")
    os.remove(missing)
    with pytest.raises(corpora.CorpusError) as error:
        iemocap.read_iemocap(release)
    message = str(error.value)
    assert "Ses01F_impro01_M002" in message and missing in message
    assert "--skip_missing" in message


def test_skip_missing_counts_and_lists_the_missing_wav(release):
    missing = _wav_path(release, "Ses01F_impro01", "Ses01F_impro01_M002")
    os.remove(missing)
    listing = iemocap.read_iemocap(release, skip_missing=True)
    assert listing.excluded["missing wav"] == 1
    assert listing.missing_files == [os.path.abspath(missing)]
    assert "Ses01F_impro01_M002" not in _by_id(listing)
    assert len(listing.utterances) == 4


def test_missing_wav_of_an_excluded_utterance_is_not_an_error(release):
    os.remove(_wav_path(release, "Ses01F_impro01", "Ses01F_impro01_M001"))  # label xxx
    assert len(iemocap.read_iemocap(release).utterances) == 5


def test_corpus_name_is_passed_through(release):
    assert iemocap.read_iemocap(release, corpus_name="synthetic").corpus == "synthetic"

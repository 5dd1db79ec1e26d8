"""V/A/D scores on another scale than the bins (mmtl_tf.corpora.csv_manifest,
mmtl_tf.preparation_summary): 0-1 ratings under the paper's default bins (edges 2, 3, 4 in (0, 6))
raise no error, since every score lies in the range, but all land in bin 0; the reader and the
prepare summary warn instead of training a task whose label is a constant."""

import numpy as np
import pytest

from mmtl_tf import audio
from mmtl_tf import corpora
from mmtl_tf import preparation_summary
from mmtl_tf.corpora import csv_manifest

_ROWS = (("a", 0.21), ("b", 0.64), ("c", 0.93))


def _manifest(tmp_path):
    """A CSV of three wavs with valence on a 0-1 scale and arousal on the 1-5 scale."""
    lines = ["path,speaker,session,emotion,valence,arousal"]
    for index, (name, valence) in enumerate(_ROWS):
        audio.write_wav(str(tmp_path / f"{name}.wav"), np.zeros(1600, np.float32), 16000)
        lines.append(f"{name}.wav,s{index},1,sad,{valence},{index + 2}")
    path = tmp_path / "corpus.csv"
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_scores_of_another_scale_all_in_one_bin_are_warned_naming_column_and_flags(tmp_path):
    path = _manifest(tmp_path)
    listing = csv_manifest.read_csv_manifest(path)
    assert [u.valence for u in listing.utterances] == [0, 0, 0]  # (0, 6) holds every score
    assert [u.arousal for u in listing.utterances] == [1, 2, 3]
    (warning,) = listing.notes
    assert warning.startswith(f"{path}: warning: all 3 valence scores (0.21 to 0.93) fall in "
                              f"bin 0 of the edges 2, 3, 4 in (0, 6)")
    assert "--csv_vad_score_range" in warning and "arousal" not in warning


def test_the_scale_given_by_flags_bins_the_scores_without_a_warning(tmp_path):
    listing = csv_manifest.read_csv_manifest(_manifest(tmp_path), vad_bin_edges=(0.5, 0.8, 3),
                                             vad_score_range=(0.0, 5.0))
    assert [u.valence for u in listing.utterances] == [0, 1, 2]
    assert [u.arousal for u in listing.utterances] == [2, 3, 3]
    assert listing.notes == []


def _summary_manifest(valence_bins):
    """A two-speaker manifest whose valence histograms are `valence_bins` (segments per bin)."""
    speakers = {}
    for index, bins in enumerate(valence_bins):
        speakers[f"s{index}"] = {
            "session": "1", "num_utterances": sum(bins), "num_segments": sum(bins),
            "histograms": {"emotion": [sum(bins), 0], "valence": list(bins),
                           "arousal": [0, 0, 0, 0], "dominance": [0, 0, 0, 0]}}
    total = sum(sum(bins) for bins in valence_bins)
    return {"corpus": "csv:x.csv", "class_names": ["sad", "angry"], "speakers": speakers,
            "totals": {"utterances": total, "segments": total}, "excluded": {},
            "missing_files": [], "aux_available": {"valence": True, "arousal": False,
                                                   "dominance": False}}


def test_prepare_summary_warns_of_a_task_whose_segments_share_one_bin(capsys):
    preparation_summary.print_summary(_summary_manifest([(3, 0, 0, 0), (2, 0, 0, 0)]), "out",
                                      0.0, 0)
    warnings = [line for line in capsys.readouterr().out.splitlines() if "bin" in line]
    assert warnings == ["warning: every rated valence segment is in bin 0, so --aux with valence "
                        "learns a constant; check the corpus' valence scale against the bins "
                        "(--csv_vad_score_range, --csv_vad_bin_edges for a CSV corpus)"]
    preparation_summary.print_summary(_summary_manifest([(3, 0, 0, 0), (0, 2, 0, 0)]), "out",
                                      0.0, 0)
    assert "warning: every rated" not in capsys.readouterr().out


def test_a_score_on_an_end_of_the_open_range_is_named_as_such_with_a_wider_range(tmp_path):
    # a -1..1 scale given as --csv_vad_score_range=-1,1: a rating of exactly 1 lies outside
    audio.write_wav(str(tmp_path / "a.wav"), np.zeros(1600, np.float32), 16000)
    path = tmp_path / "corpus.csv"
    path.write_text("path,speaker,session,emotion,valence\na.wav,s1,1,sad,1\n")
    with pytest.raises(corpora.CorpusError) as error:
        csv_manifest.read_csv_manifest(str(path), vad_bin_edges=(0.0,), vad_score_range=(-1, 1))
    assert ("score 1 is outside (-1, 1) (the range is open, so its ends are outside it: widen "
            "it, e.g. --csv_vad_score_range=-1.5,1.5)") in str(error.value)
    listing = csv_manifest.read_csv_manifest(str(path), vad_bin_edges=(0.0,),
                                             vad_score_range=(-1.5, 1.5))
    assert listing.utterances[0].valence == 1

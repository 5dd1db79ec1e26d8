"""Tests of mmtl_tf.corpora.csv_manifest on small hand-written manifests and wavs."""

import collections
import os
import shutil

import numpy as np
import pytest

from mmtl_tf import audio
from mmtl_tf import corpora
from mmtl_tf.corpora import csv_manifest

STEREO_FRAMES = 12345  # at 44.1 kHz: 12345 * 16000 / 44100 = 4478.9 samples at 16 kHz


def _noise(frames, channels=None, seed=0):
    shape = (frames,) if channels is None else (frames, channels)
    return np.random.default_rng(seed).uniform(-0.1, 0.1, shape).astype(np.float32)


@pytest.fixture
def corpus(tmp_path):
    """A corpus folder with a 16 kHz mono wav, a 44.1 kHz stereo wav and one outside it."""
    root = tmp_path / "corpus"
    os.makedirs(root / "wavs")
    os.makedirs(tmp_path / "elsewhere")
    audio.write_wav(str(root / "wavs" / "a.wav"), _noise(8000), 16000)
    audio.write_wav(str(root / "wavs" / "b.wav"), _noise(STEREO_FRAMES, channels=2), 44100)
    audio.write_wav(str(tmp_path / "elsewhere" / "c.wav"), _noise(4000, seed=1), 16000)
    return root


def _write_manifest(folder, text, name="manifest.csv", encoding="utf-8"):
    path = os.path.join(folder, name)
    with open(path, "w", encoding=encoding, newline="") as handle:
        handle.write(text)
    return path


def _standard_manifest(corpus):
    absolute = os.path.join(os.path.dirname(corpus), "elsewhere", "c.wav")
    return _write_manifest(corpus, (
        "path,speaker,session,emotion,valence,arousal,dominance\n"
        "wavs/a.wav,spk1,s1,neutral,2.0,3.0,4.0\n"
        "wavs/b.wav,spk2,s1,ang,1.5,4.5,3.9999\n"
        f"{absolute},spk3,s2,Happy,3.5,2.5,1.0\n"))


def test_relative_and_absolute_paths_resolve_to_absolute_files(corpus):
    listing = csv_manifest.read_csv_manifest(_standard_manifest(corpus))
    paths = {u.utterance_id: u.path for u in listing.utterances}
    assert paths["wavs/a"] == str(corpus / "wavs" / "a.wav")
    assert paths["wavs/b"] == str(corpus / "wavs" / "b.wav")
    assert paths["../elsewhere/c"] == str(corpus.parent / "elsewhere" / "c.wav")
    assert all(os.path.isabs(path) for path in paths.values())


def test_listing_holds_speakers_sessions_emotions_and_binned_scores(corpus):
    listing = csv_manifest.read_csv_manifest(_standard_manifest(corpus))
    assert listing.corpus == "csv:manifest.csv"
    assert listing.class_names == ("neutral", "happy", "sad", "angry")
    assert [(u.utterance_id, u.speaker, u.session, u.emotion, u.valence, u.arousal, u.dominance)
            for u in listing.utterances] == [
        ("../elsewhere/c", "spk3", "s2", 1, 2, 1, 0),
        ("wavs/a", "spk1", "s1", 0, 1, 2, 3),
        ("wavs/b", "spk2", "s1", 3, 0, 3, 2)]
    assert listing.speakers() == {"spk1": "s1", "spk2": "s1", "spk3": "s2"}
    assert listing.excluded == collections.Counter()


def test_stereo_44k_row_is_accepted_and_reads_as_16k_mono(corpus):
    listing = csv_manifest.read_csv_manifest(_standard_manifest(corpus))
    stereo = {u.utterance_id: u for u in listing.utterances}["wavs/b"]
    assert audio.inspect_wav(stereo.path)["channels"] == 2
    assert audio.inspect_wav(stereo.path)["sample_rate"] == 44100
    waveform = audio.read_wav(stereo.path, target_rate=16000)
    assert waveform.ndim == 1 and waveform.dtype == np.float32
    assert abs(len(waveform) - round(STEREO_FRAMES * 16000 / 44100)) <= 1


def _copies(corpus, *names):
    """Copies of wavs/a.wav under other names (a wav may be listed by one row only)."""
    for name in names:
        shutil.copy(corpus / "wavs" / "a.wav", corpus / "wavs" / name)


def test_iemocap_names_and_case_are_aliases_of_class_names(corpus):
    _copies(corpus, "c.wav", "d.wav")
    path = _write_manifest(corpus, (
        "utterance_id,path,speaker,session,emotion\n"
        "u1,wavs/a.wav,spk1,s1,ang\n"
        "u2,wavs/b.wav,spk1,s1,NEU\n"
        "u3,wavs/c.wav,spk1,s1,Happiness\n"
        "u4,wavs/d.wav,spk1,s1,sadness\n"), name="aliases.csv")
    listing = csv_manifest.read_csv_manifest(path)
    assert [(u.utterance_id, u.emotion) for u in listing.utterances] == [
        ("u1", 3), ("u2", 0), ("u3", 1), ("u4", 2)]


def test_alias_applies_only_when_its_target_is_a_class(corpus):
    path = _write_manifest(corpus, (
        "utterance_id,path,speaker,session,emotion\n"
        "u1,wavs/a.wav,spk1,s1,ang\n"
        "u2,wavs/b.wav,spk1,s1,neu\n"))
    listing = csv_manifest.read_csv_manifest(path, class_names=("neutral", "calm"))
    assert [(u.utterance_id, u.emotion) for u in listing.utterances] == [("u2", 0)]
    assert listing.excluded == collections.Counter({"label ang": 1})


def test_rows_with_other_labels_are_excluded_and_counted_per_label(corpus):
    _copies(corpus, "c.wav", "d.wav")
    path = _write_manifest(corpus, (
        "utterance_id,path,speaker,session,emotion\n"
        "u1,wavs/a.wav,spk1,s1,fru\n"
        "u2,wavs/b.wav,spk1,s1,fru\n"
        "u3,wavs/c.wav,spk1,s1,Fear\n"
        "u4,wavs/d.wav,spk1,s1,sad\n"
        "u5,missing.wav,spk1,s1,xxx\n"))
    listing = csv_manifest.read_csv_manifest(path)
    assert [u.utterance_id for u in listing.utterances] == ["u4"]
    assert listing.excluded == collections.Counter({"label fru": 2, "label Fear": 1,
                                                    "label xxx": 1})


@pytest.mark.parametrize("header, missing", [
    ("speaker,session,emotion", "path"),
    ("path,session,emotion", "speaker"),
    ("path,speaker,emotion", "session"),
    ("path,speaker,session,label", "emotion"),
])
def test_missing_column_error_names_file_and_column(corpus, header, missing):
    cells = ",".join(["wavs/a.wav", "x", "y", "z"][:len(header.split(","))])
    path = _write_manifest(corpus, f"{header}\n{cells}\n")
    with pytest.raises(corpora.CorpusError, match=f"required column '{missing}' is missing") \
            as error:
        csv_manifest.read_csv_manifest(path)
    assert path in str(error.value)


def test_header_missing_a_column_is_reported_before_the_rows_it_misaligns(corpus):
    path = _write_manifest(corpus, "path,speaker,emotion\nwavs/a.wav,anna,1,sad\n")
    with pytest.raises(corpora.CorpusError, match="required column 'session' is missing"):
        csv_manifest.read_csv_manifest(path)


@pytest.mark.parametrize("rows, expected", [
    # An empty aux cell, a whitespace-only one, a short row (cells missing at the end).
    ("wavs/a.wav,s1,1,sad,2.0,3.0\nwavs/b.wav,s1,1,sad,,3.0\n", "row 3, column 'valence'"),
    ("wavs/a.wav,s1,1,sad,2.0,3.0\nwavs/b.wav,s1,1,sad,2.0,  \n", "row 3, column 'arousal'"),
    ("wavs/a.wav,s1,1,sad,2.0\n", "row 2, column 'arousal': the row ends before this column"),
    ("wavs/a.wav,s1,1,sad,2.0,abc\n", "row 2, column 'arousal': 'abc' is not a number"),
    ("wavs/a.wav,s1,1,sad,2.0,9\n", "row 2, column 'arousal': score 9 is outside"),
    ("wavs/a.wav,s1,1,sad,nan,2\n", "row 2, column 'valence': score nan is outside"),
    ("wavs/a.wav,s1,1,sad,0.0,2\n", "row 2, column 'valence': score 0.0 is outside"),
    ("wavs/a.wav,,1,sad,2.0,3.0\n", "row 2, column 'speaker': the cell is empty"),
    ("\n\nwavs/a.wav,s1,,sad,2.0,3.0\n", "row 4, column 'session': the cell is empty"),
    ("wavs/a.wav,s1,1,,2.0,3.0\n", "row 2, column 'emotion': the cell is empty"),
    (",s1,1,sad,2.0,3.0\n", "row 2, column 'path': the cell is empty"),
    ("wavs/a.wav,s1,1,sad,2.0,3.0,extra\n", "row 2 has more cells than the header"),
    ("wavs/a.wav,anna b,1,sad,2.0,3.0\n", "row 2, column 'speaker': speaker id 'anna b' must be"),
])
def test_bad_cell_error_names_file_row_and_column(corpus, rows, expected):
    path = _write_manifest(corpus, "path,speaker,session,emotion,valence,arousal\n" + rows)
    with pytest.raises(corpora.CorpusError) as error:
        csv_manifest.read_csv_manifest(path)
    assert f"{path}: {expected}" in str(error.value)


@pytest.mark.parametrize("rows, start, end", [
    ('wavs/a.wav,s1,1,sad\nwavs/b.wav,s1,1,"sad\nwavs/a.wav,s2,2,sad\nwavs/b.wav,s2,2,hap\n', 3, 5),
    ('"wavs/a.wav,s1,1,sad\r\nwavs/b.wav,s1,1,sad\r\n', 2, 3),
])
def test_an_unterminated_quote_is_an_error_at_its_row_not_an_exclusion(corpus, rows, start, end):
    path = _write_manifest(corpus, "path,speaker,session,emotion\n" + rows)
    with pytest.raises(corpora.CorpusError, match=rf"row {start}: a cell holds a line break, so "
                                                  rf"the row runs on to line {end}") as error:
        csv_manifest.read_csv_manifest(path)
    assert path in str(error.value) and "quote" in str(error.value)


def test_quoted_cells_with_commas_are_still_read(corpus):
    path = _write_manifest(corpus, 'path,speaker,session,emotion,utterance_id\n'
                                   '"wavs/a.wav","spk1",s1,"sad","take 1, good"\n')
    assert [u.utterance_id for u in csv_manifest.read_csv_manifest(path).utterances] == [
        "take 1, good"]


@pytest.mark.parametrize("kind", ["directory", "fifo"])
def test_a_directory_or_fifo_named_like_a_wav_is_not_reported_missing(corpus, kind):
    if kind == "directory":
        os.mkdir(corpus / "wavs" / "x.wav")
    else:
        os.mkfifo(corpus / "wavs" / "x.wav")
    path = _write_manifest(corpus, "path,speaker,session,emotion\nwavs/x.wav,spk1,s1,sad\n")
    for skip_missing in (False, True):
        with pytest.raises(corpora.CorpusError, match="row 2: wav file .*x.wav is not a regular "
                                                      "file"):
            csv_manifest.read_csv_manifest(path, skip_missing=skip_missing)


def test_an_unreadable_manifest_is_an_error_naming_it(corpus, monkeypatch):
    path = _write_manifest(corpus, "path,speaker,session,emotion\nwavs/a.wav,spk1,s1,sad\n")

    def refuse(name, *args, **kwargs):
        raise PermissionError(13, "Permission denied", name)

    monkeypatch.setattr(csv_manifest, "open", refuse, raising=False)
    with pytest.raises(corpora.CorpusError, match="cannot read the CSV manifest .Permission"):
        csv_manifest.read_csv_manifest(path)


def test_without_aux_columns_labels_are_missing(corpus):
    path = _write_manifest(corpus, "path,speaker,session,emotion\nwavs/a.wav,spk1,s1,sad\n")
    (utterance,) = csv_manifest.read_csv_manifest(path).utterances
    assert (utterance.valence, utterance.arousal, utterance.dominance) == (
        corpora.MISSING_LABEL, corpora.MISSING_LABEL, corpora.MISSING_LABEL)
    assert corpora.MISSING_LABEL == -1


def test_only_present_aux_columns_are_labelled(corpus):
    path = _write_manifest(corpus, "path,speaker,session,emotion,arousal\n"
                                   "wavs/a.wav,spk1,s1,sad,4.0\n")
    (utterance,) = csv_manifest.read_csv_manifest(path).utterances
    assert (utterance.valence, utterance.arousal, utterance.dominance) == (-1, 3, -1)


def test_speaker_in_two_sessions_error_names_both_rows(corpus):
    path = _write_manifest(corpus, (
        "path,speaker,session,emotion\n"
        "wavs/a.wav,spk1,s1,sad\n"
        "wavs/b.wav,spk2,s1,sad\n"
        "../elsewhere/c.wav,spk1,s2,sad\n"))
    with pytest.raises(corpora.CorpusError) as error:
        csv_manifest.read_csv_manifest(path)
    message = str(error.value)
    assert "row 4" in message and "row 2" in message and "'spk1'" in message


def test_duplicate_utterance_id_error_names_both_rows(corpus):
    path = _write_manifest(corpus, (
        "path,speaker,session,emotion,utterance_id\n"
        "wavs/a.wav,spk1,s1,sad,u1\n"
        "wavs/b.wav,spk1,s1,sad,u2\n"
        "../elsewhere/c.wav,spk1,s1,sad,u1\n"))
    with pytest.raises(corpora.CorpusError, match=r"row 4: utterance id 'u1' .* row 2"):
        csv_manifest.read_csv_manifest(path)


def test_same_file_listed_twice_is_a_duplicate_id(corpus):
    path = _write_manifest(corpus, "path,speaker,session,emotion\n"
                                   "wavs/a.wav,spk1,s1,sad\n./wavs/a.wav,spk1,s1,sad\n")
    with pytest.raises(corpora.CorpusError, match=r"row 3: utterance id 'wavs/a' .* row 2"):
        csv_manifest.read_csv_manifest(path)


def test_default_ids_stay_unique_for_names_differing_in_extension(corpus):
    shutil.copy(corpus / "wavs" / "a.wav", corpus / "wavs" / "a.wave")
    path = _write_manifest(corpus, "path,speaker,session,emotion\n"
                                   "wavs/a.wav,spk1,s1,sad\nwavs/a.wave,spk1,s1,sad\n")
    ids = [u.utterance_id for u in csv_manifest.read_csv_manifest(path).utterances]
    assert ids == ["wavs/a", "wavs/a.wave"]


def test_empty_cells_beyond_the_header_are_not_an_error(corpus):
    path = _write_manifest(corpus, "path,speaker,session,emotion\nwavs/a.wav,spk1,s1,sad,,\n")
    assert len(csv_manifest.read_csv_manifest(path).utterances) == 1


def test_missing_wav_error_names_row_path_and_flag(corpus):
    path = _write_manifest(corpus, "path,speaker,session,emotion\n"
                                   "wavs/a.wav,spk1,s1,sad\nwavs/gone.wav,spk1,s1,sad\n")
    with pytest.raises(corpora.CorpusError) as error:
        csv_manifest.read_csv_manifest(path)
    message = str(error.value)
    assert "row 3" in message and str(corpus / "wavs" / "gone.wav") in message
    assert "--skip_missing" in message


def test_skip_missing_counts_and_lists_the_missing_wav(corpus):
    path = _write_manifest(corpus, "path,speaker,session,emotion\n"
                                   "wavs/a.wav,spk1,s1,sad\nwavs/gone.wav,spk1,s1,sad\n")
    listing = csv_manifest.read_csv_manifest(path, skip_missing=True)
    assert [u.utterance_id for u in listing.utterances] == ["wavs/a"]
    assert listing.excluded == collections.Counter({"missing wav": 1})
    assert listing.missing_files == [str(corpus / "wavs" / "gone.wav")]


def test_byte_order_mark_header_case_and_cell_whitespace_are_tolerated(corpus):
    path = _write_manifest(corpus, (
        " Path , Speaker ,Session,EMOTION, Valence \r\n"
        " wavs/a.wav , spk1 , s1 , Sad , 2.5 \r\n"), encoding="utf-8-sig")
    with open(path, "rb") as handle:
        assert handle.read(3) == b"\xef\xbb\xbf"
    (utterance,) = csv_manifest.read_csv_manifest(path, corpus_name="mine").utterances
    assert (utterance.utterance_id, utterance.speaker, utterance.session, utterance.emotion,
            utterance.valence) == ("wavs/a", "spk1", "s1", 2, 1)


def test_corpus_name_defaults_to_csv_file_name(corpus):
    path = _write_manifest(corpus, "path,speaker,session,emotion\nwavs/a.wav,spk1,s1,sad\n",
                           name="my_corpus.csv")
    assert csv_manifest.read_csv_manifest(path).corpus == "csv:my_corpus.csv"
    assert csv_manifest.read_csv_manifest(path, corpus_name="mine").corpus == "mine"


def test_missing_manifest_file_error_names_it(tmp_path):
    with pytest.raises(corpora.CorpusError, match="nothing.csv: CSV manifest not found"):
        csv_manifest.read_csv_manifest(str(tmp_path / "nothing.csv"))


def test_manifest_that_is_empty_or_not_utf8_error_names_it(corpus):
    empty = _write_manifest(corpus, "", name="empty.csv")
    with pytest.raises(corpora.CorpusError, match="empty") as error:
        csv_manifest.read_csv_manifest(empty)
    assert empty in str(error.value)
    latin1 = corpus / "latin1.csv"
    latin1.write_bytes("path,speaker,session,emotion\nwavs/a.wav,Jos\xe9,1,sad\n".encode("latin-1"))
    with pytest.raises(corpora.CorpusError, match="UTF-8") as error:
        csv_manifest.read_csv_manifest(str(latin1))
    assert str(latin1) in str(error.value)


def test_csv_corpus_with_stereo_8k_and_48k_audio_reads_as_16k_mono(tmp_path):
    shapes = {"stereo44k": (44100, 2), "mono8k": (8000, 1), "mono48k": (48000, 1),
              "mono16k": (16000, 1)}
    os.makedirs(tmp_path / "wavs")
    rows = ["path,speaker,session,emotion"]
    for number, (name, (sample_rate, channels)) in enumerate(shapes.items()):
        audio.write_wav(str(tmp_path / "wavs" / f"{name}.wav"),
                        _noise(sample_rate // 2, channels), sample_rate)
        rows.append(f"wavs/{name}.wav,spk{number % 2},s{number % 2},neutral")
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("\n".join(rows) + "\n")
    listing = csv_manifest.read_csv_manifest(str(manifest))
    assert sorted(u.utterance_id for u in listing.utterances) == sorted(
        f"wavs/{name}" for name in shapes)
    for utterance in listing.utterances:
        waveform = audio.read_wav(utterance.path, target_rate=16000)
        assert waveform.ndim == 1 and abs(len(waveform) - 8000) <= 1


def test_a_corpus_rated_on_another_scale_bins_with_its_own_edges(corpus):
    """A 1-7 rating (as MSP-Podcast's) and a -1..1 rating bin by the edges given, an edge going
    to the upper bin; the paper's (0, 6) range would refuse both."""
    manifest = _write_manifest(corpus, (
        "path,speaker,session,emotion,arousal,valence\n"
        "wavs/a.wav,spk1,s1,neutral,6.5,-0.5\n"
        "wavs/b.wav,spk2,s2,angry,2.5,0.25\n"))
    with pytest.raises(corpora.CorpusError, match=r"row 2, column 'valence': score -0\.5 is outside "
                       r"\(0, 6\).*--csv_vad_score_range and --csv_vad_bin_edges"):
        csv_manifest.read_csv_manifest(manifest)
    listing = csv_manifest.read_csv_manifest(manifest, vad_bin_edges=(-0.5, 0.0, 0.5),
                                             vad_score_range=(-1.0, 7.0))
    bins = {u.utterance_id: (u.valence, u.arousal) for u in listing.utterances}
    edges = np.array([-0.5, 0.0, 0.5])
    expected = {"wavs/a": (-0.5, 6.5), "wavs/b": (0.25, 2.5)}
    for utterance_id, scores in expected.items():
        assert bins[utterance_id] == tuple(int(np.searchsorted(edges, s, side="right")) for s in scores)
    assert bins == {"wavs/a": (1, 3), "wavs/b": (2, 3)}
    two_bins = csv_manifest.read_csv_manifest(manifest, vad_bin_edges=(4.0,),
                                              vad_score_range=(-1.0, 7.0))
    assert sorted(u.arousal for u in two_bins.utterances) == [0, 1]


@pytest.mark.parametrize("edges, score_range, message", [
    ((), (0, 6), "1 to 3 bin edges"), ((1, 2, 3, 4), (0, 6), "1 to 3 bin edges"),
    ((2, 2, 4), (0, 6), "increase strictly"), ((2, 3, 7), (0, 6), "inside the score range"),
    ((2, 3, 4), (6, 0), "two increasing numbers")])
def test_an_unusable_vad_binning_is_refused_before_any_row(corpus, edges, score_range, message):
    with pytest.raises(ValueError, match=message):
        csv_manifest.read_csv_manifest(_standard_manifest(corpus), vad_bin_edges=edges,
                                       vad_score_range=score_range)


@pytest.mark.parametrize("delimiter", ["\t", ";"])
def test_tab_and_semicolon_separated_manifests_read_as_the_comma_one(corpus, delimiter):
    """As spreadsheets write them in some locales: recognised from the header; a Windows-style
    relative path (wavs\\a.wav) is the same file."""
    comma = csv_manifest.read_csv_manifest(_standard_manifest(corpus))
    text = open(_standard_manifest(corpus), encoding="utf-8").read().replace(",", delimiter)
    other = _write_manifest(corpus, text.replace("wavs/a.wav", "wavs\\a.wav"), name="other.csv")
    listing = csv_manifest.read_csv_manifest(other)
    assert listing.utterances == comma.utterances
    assert listing.corpus == "csv:other.csv"


def test_ratings_marked_missing_read_as_missing_labels_and_other_cells_still_fail(corpus):
    """--csv_missing_vad: the corpus' own marks of a missing rating (compared case-insensitively,
    "" for an empty cell) give MISSING_LABEL for that utterance and task only."""
    rows = ("path,speaker,session,emotion,valence,arousal\n"
            "wavs/a.wav,s1,1,sad,NA,4.5\n"
            "wavs/b.wav,s2,1,angry,2.5,\n")
    path = _write_manifest(corpus, rows)
    with pytest.raises(corpora.CorpusError, match=r"row 2, column 'valence': 'NA' is not a "
                                                  r"number; .*--csv_missing_vad"):
        csv_manifest.read_csv_manifest(path)
    with pytest.raises(corpora.CorpusError, match=r"row 3, column 'arousal': the cell is empty"):
        csv_manifest.read_csv_manifest(path, missing_vad=("na",))  # an empty cell is not named
    listing = csv_manifest.read_csv_manifest(path, missing_vad=("na", ""))
    labelled = {u.speaker: (u.valence, u.arousal) for u in listing.utterances}
    assert labelled == {"s1": (corpora.MISSING_LABEL, 3), "s2": (1, corpora.MISSING_LABEL)}
    with pytest.raises(corpora.CorpusError, match=r"row 2, column 'valence': 'unknown' is not "
                                                  r"a number$"):  # no hint: marks were given
        csv_manifest.read_csv_manifest(_write_manifest(corpus, rows.replace("NA", "unknown")),
                                       missing_vad=("na", ""))


def test_a_partly_rated_task_is_available_and_prepare_counts_the_unrated(corpus, capsys):
    from conftest import smoke_features
    from mmtl_tf import preparation

    path = _write_manifest(corpus, "path,speaker,session,emotion,arousal\n"
                                   "wavs/a.wav,s1,1,sad,NA\n"
                                   "wavs/b.wav,s2,1,angry,4.5\n")
    listing = csv_manifest.read_csv_manifest(path, missing_vad=("na",))
    capsys.readouterr()
    manifest = preparation.prepare_corpus(listing, smoke_features(), str(corpus / "out"),
                                          show_progress=False)
    assert manifest["aux_available"] == {"valence": False, "arousal": True, "dominance": False}
    rated = {speaker: sum(entry["histograms"]["arousal"])
             for speaker, entry in manifest["speakers"].items()}
    assert rated["s1"] == 0 and rated["s2"] == manifest["speakers"]["s2"]["num_segments"] > 0
    unrated = manifest["speakers"]["s1"]["num_segments"]
    assert (f"arousal: {unrated} of {manifest['totals']['segments']} segments have no rating"
            in capsys.readouterr().out)


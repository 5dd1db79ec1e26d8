"""Tests of mmtl_tf.corpora.csv_manifest: a wav listed twice, and columns it does not read."""

import os

import numpy as np
import pytest

from mmtl_tf import audio
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

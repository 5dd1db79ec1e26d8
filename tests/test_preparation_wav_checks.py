"""Prepare checks every wav header before writing anything, and names every unusable wav in one
error (mmtl_tf.preparation_stream.expected_lengths): a corpus with several broken files is mended
in one pass, not one prepare run per file."""

import os

import numpy as np
import pytest

import handmade_corpus
from mmtl_tf import audio
from mmtl_tf import config as config_lib
from mmtl_tf import preparation
from mmtl_tf import preparation_stream

FEATURE_CONFIG = config_lib.FeatureConfig()


def _break(listing, utterance_ids, content=b"ID3 an mp3 named .wav"):
    """Overwrites these utterances' wavs with `content`."""
    for utterance in listing.utterances:
        if utterance.utterance_id in utterance_ids:
            with open(utterance.path, "wb") as handle:
                handle.write(content)


def test_every_unusable_wav_is_named_in_one_error(tmp_path):
    durations = {"1F_a": 0.5, "1F_b": 0.5, "1M_a": 0.5, "1M_b": 0.02, "1M_c": 0.5}
    listing = handmade_corpus.listing(str(tmp_path), durations)
    _break(listing, {"1F_b", "1M_c"})
    with pytest.raises(audio.AudioError) as error:
        preparation.prepare_corpus(listing, FEATURE_CONFIG, str(tmp_path / "out"),
                                   show_progress=False)
    message = str(error.value)
    assert message.startswith("3 of 5 wavs cannot be used")
    for name, problem in (("1F_b.wav", "an MP3 file"), ("1M_b.wav", "shorter than one analysis"),
                          ("1M_c.wav", "an MP3 file")):
        assert any(name in line and problem in line for line in message.splitlines()), name
    assert "1F_a.wav" not in message and "1M_a.wav" not in message
    assert not os.path.exists(tmp_path / "out" / "manifest.json")


def test_a_long_list_of_unusable_wavs_is_cut_with_a_count(tmp_path):
    durations = {f"1F_{index:02d}": 0.5 for index in range(6)}
    listing = handmade_corpus.listing(str(tmp_path), durations)
    _break(listing, set(durations), content=b"")
    with pytest.raises(audio.AudioError) as error:
        preparation_stream.expected_lengths(listing.utterances, FEATURE_CONFIG, listed=4)
    lines = str(error.value).splitlines()
    assert lines[0].startswith("6 of 6 wavs cannot be used")
    assert len(lines) == 6 and lines[-1].strip() == "... and 2 more"
    assert all("the file is empty" in line for line in lines[1:5])


def test_lengths_of_usable_wavs_are_what_reading_them_gives(tmp_path):
    listing = handmade_corpus.listing(str(tmp_path), {"1F_a": 0.5, "1M_a": 0.7})
    lengths = preparation_stream.expected_lengths(listing.utterances, FEATURE_CONFIG)
    assert lengths == {u.utterance_id: audio.read_wav(u.path).shape[0]
                       for u in listing.utterances} == {"1F_a": 8000, "1M_a": 11200}


def test_wavs_with_a_dc_offset_are_warned_of_once_the_stream_is_done(tmp_path, capsys):
    listing = handmade_corpus.listing(str(tmp_path), {"1F_a": 0.5, "1M_a": 0.5, "1M_b": 0.5})
    shifted = listing.utterances[1]
    waveform = audio.read_wav(shifted.path)
    audio.write_wav(shifted.path, waveform + 0.02, 16000)  # 2% of full scale
    lengths = preparation_stream.expected_lengths(listing.utterances, FEATURE_CONFIG)
    capsys.readouterr()
    assert len(list(preparation_stream.feature_stream(listing.utterances, lengths,
                                                      FEATURE_CONFIG))) == 3
    (warning,) = [line for line in capsys.readouterr().out.splitlines() if "DC offset" in line]
    expected_offset = abs(float(audio.read_wav(shifted.path).mean()))
    assert abs(expected_offset - 0.02) < 1e-3
    assert warning.startswith(f"warning: 1 of 3 wavs have a DC offset above 0.002 of full scale "
                              f"(largest {expected_offset:.4f}, {shifted.path})")


def test_wavs_without_a_dc_offset_give_no_warning(tmp_path, capsys):
    listing = handmade_corpus.listing(str(tmp_path), {"1F_a": 0.5, "1M_a": 0.5})
    lengths = preparation_stream.expected_lengths(listing.utterances, FEATURE_CONFIG)
    list(preparation_stream.feature_stream(listing.utterances, lengths, FEATURE_CONFIG))
    assert "DC offset" not in capsys.readouterr().out
    assert preparation_stream.dc_offset_warning([(0.0019, "a.wav")]) == ""


def test_wavs_of_digital_silence_are_warned_of(tmp_path, capsys):
    listing = handmade_corpus.listing(str(tmp_path), {"1F_a": 0.5, "1M_a": 0.5, "1M_b": 0.5})
    for utterance in listing.utterances[1:]:
        audio.write_wav(utterance.path, audio.read_wav(utterance.path) * 0.0, 16000)
    lengths = preparation_stream.expected_lengths(listing.utterances, FEATURE_CONFIG)
    capsys.readouterr()
    computed = dict(preparation_stream.feature_stream(listing.utterances, lengths, FEATURE_CONFIG))
    assert not np.any(computed[listing.utterances[1]]["spectrogram"])  # what training would get
    (warning,) = [line for line in capsys.readouterr().out.splitlines() if "silence" in line]
    assert warning.startswith(f"warning: 2 of 3 wavs are digital silence (every sample 0; first: "
                              f"{listing.utterances[1].path})")

"""The RAVDESS reader on a release-shaped tree the tests write (48 kHz, with the release's traps)."""

import os

import numpy as np
import pytest

from mmtl_tf import corpora
from mmtl_tf.corpora import ravdess

RATE = 48000
SPEECH = [(emotion, intensity, statement, repetition)
          for emotion in ("01", "02", "03", "04", "05", "06")
          for intensity in ("01", "02")
          for statement in ("01", "02")
          for repetition in ("01", "02")
          if not (emotion == "01" and intensity == "02")]  # neutral has normal intensity only


def _write_tree(root, actors=(1, 2, 3), seconds=2.5):
    """Actors' speech files (6 emotions) plus song files, an AppleDouble copy and a text file."""
    from mmtl_tf import audio
    rng = np.random.default_rng(0)
    for actor in actors:
        folder = os.path.join(root, f"Actor_{actor:02d}")
        os.makedirs(folder)
        for emotion, intensity, statement, repetition in SPEECH:
            name = f"03-01-{emotion}-{intensity}-{statement}-{repetition}-{actor:02d}.wav"
            audio.write_wav(os.path.join(folder, name),
                            0.1 * rng.standard_normal(int(seconds * RATE)), RATE)
        for emotion in ("03", "04"):  # the song release's channel 02
            audio.write_wav(os.path.join(folder, f"03-02-{emotion}-01-01-01-{actor:02d}.wav"),
                            np.zeros(RATE), RATE)
        open(os.path.join(folder, f"._03-01-01-01-01-01-{actor:02d}.wav"), "wb").write(b"\0\5\26\7")
        open(os.path.join(folder, "notes.txt"), "w").write("not audio")
    open(os.path.join(root, "README.txt"), "w").write("release notes")


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("ravdess"))
    _write_tree(root)
    return root


def test_counts_sessions_and_labels(tree):
    listing = ravdess.read_ravdess(tree)
    # Actors 1 and 2 pair into a session; actor 3 has no partner and is excluded, counted.
    assert listing.speakers() == {"actor01M": "actors01-02", "actor02F": "actors01-02"}
    per_actor_kept = 4 + 8 + 8 + 8  # neutral (normal only), happy, sad, angry
    assert len(listing.utterances) == 2 * per_actor_kept
    assert listing.excluded == {"song file": 6, "label calm": 24, "label fearful": 24,
                                "unpaired actor 03": per_actor_kept, "AppleDouble file": 3}
    by_id = {u.utterance_id: u for u in listing.utterances}
    angry_strong = by_id["03-01-05-02-01-02-02"]
    assert (angry_strong.speaker, angry_strong.emotion, angry_strong.arousal) == ("actor02F", 3, 3)
    neutral = by_id["03-01-01-01-02-01-01"]
    assert (neutral.emotion, neutral.arousal, neutral.valence, neutral.dominance) == (0, 2, -1, -1)
    assert neutral.path == os.path.join(tree, "Actor_01", "03-01-01-01-02-01-01.wav")


def test_arousal_comes_from_intensity_never_from_emotion(tree):
    listing = ravdess.read_ravdess(tree, intensity_bins=(0, 3))
    for utterance in listing.utterances:
        intensity = utterance.utterance_id.split("-")[3]
        assert utterance.arousal == {"01": 0, "02": 3}[intensity]
    arousal_by_emotion = {}
    for utterance in listing.utterances:
        arousal_by_emotion.setdefault(utterance.emotion, set()).add(utterance.arousal)
    assert all(len(values) == 2 for emotion, values in arousal_by_emotion.items() if emotion != 0)


def test_merge_calm_and_class_choice(tree):
    listing = ravdess.read_ravdess(tree, class_names=("neutral", "sad"), merge_calm=True)
    neutral = [u for u in listing.utterances if u.emotion == 0]
    assert len(neutral) == 2 * (4 + 8)  # neutral plus calm (normal and strong)
    assert listing.excluded["label happy"] == 3 * 8 and "label calm" not in listing.excluded
    with pytest.raises(ValueError, match="merge_calm"):
        ravdess.read_ravdess(tree, class_names=("calm", "sad"), merge_calm=True)
    with pytest.raises(ValueError, match="not a RAVDESS emotion"):
        ravdess.read_ravdess(tree, class_names=("neu", "sad"))
    with pytest.raises(ValueError, match="intensity_bins"):
        ravdess.read_ravdess(tree, intensity_bins=(2, 2))


def test_layout_errors_name_the_path(tmp_path):
    with pytest.raises(corpora.CorpusError, match="RAVDESS folder not found"):
        ravdess.read_ravdess(str(tmp_path / "absent"))
    with pytest.raises(corpora.CorpusError, match="no Actor_NN folder"):
        ravdess.read_ravdess(str(tmp_path))
    folder = tmp_path / "Actor_01"
    folder.mkdir()
    (folder / "03-01-05-01-01-01-02.wav").write_bytes(b"")
    with pytest.raises(corpora.CorpusError, match="Actor_01.*03-01-05-01-01-01-02.wav.*lies in"):
        ravdess.read_ravdess(str(tmp_path))
    os.remove(folder / "03-01-05-01-01-01-02.wav")
    (folder / "03-01-5-01-01-01-01.wav").write_bytes(b"")
    with pytest.raises(corpora.CorpusError, match="not a RAVDESS file name"):
        ravdess.read_ravdess(str(tmp_path))
    os.remove(folder / "03-01-5-01-01-01-01.wav")
    os.mkdir(folder / "03-01-05-01-01-01-01.wav")
    with pytest.raises(corpora.CorpusError, match="not a regular file"):
        ravdess.read_ravdess(str(tmp_path))


def test_48khz_release_prepares_at_16khz(tree, tmp_path):
    from mmtl_tf import config, preparation
    listing = ravdess.read_ravdess(tree, class_names=("angry",))
    feature_config = config.FeatureConfig()
    manifest = preparation.prepare_corpus(listing, feature_config, str(tmp_path / "shards"),
                                          show_progress=False)
    assert manifest["corpus"] == "ravdess"
    assert manifest["aux_available"] == {"valence": False, "arousal": True, "dominance": False}
    for speaker in ("actor01M", "actor02F"):
        info = manifest["speakers"][speaker]
        # 8 angry files of 2.5 s: one segment each (<= 3 s), whatever the input rate.
        assert info["num_utterances"] == 8 and info["num_segments"] == 8
        assert info["histograms"]["arousal"] == [0, 0, 4, 4]


@pytest.mark.parametrize("name, expected", [("Actor_2", "Actor_02"), ("actor_02", "Actor_02"),
                                            ("Actor 14", "Actor_14"), ("Actor-002", "Actor_02")])
def test_a_misnamed_actor_folder_is_an_error_naming_it_and_the_release_name(tmp_path, name,
                                                                             expected):
    for folder in ("Actor_01", name):
        os.makedirs(tmp_path / folder)
    (tmp_path / "Actor_01" / "03-01-05-01-01-01-01.wav").write_bytes(b"")
    with pytest.raises(corpora.CorpusError) as error:
        ravdess.read_ravdess(str(tmp_path))
    assert str(error.value).startswith(f"{tmp_path / name}: looks like an actor folder")
    assert f"(expected {expected}); rename it to {expected}" in str(error.value)


def test_entries_that_are_no_actor_folder_are_still_ignored(tmp_path):
    for actor in ("01", "02"):
        os.makedirs(tmp_path / f"Actor_{actor}")
        (tmp_path / f"Actor_{actor}" / f"03-01-05-01-01-01-{actor}.wav").write_bytes(b"")
    # a Kaggle copy adds a folder holding all actors again; AppleDouble copies and notes
    os.makedirs(tmp_path / "audio_speech_actors_01-24" / "Actor_03")
    for name in ("._Actor_01", "Actor_03.zip", "README.txt"):
        (tmp_path / name).write_bytes(b"\0")
    listing = ravdess.read_ravdess(str(tmp_path))
    assert {u.speaker for u in listing.utterances} == {"actor01M", "actor02F"}

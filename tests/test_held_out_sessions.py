"""Held-out sessions of more than two speakers: one validates, the others are all tested.

IEMOCAP and RAVDESS sessions hold two speakers; a CSV corpus may group more into a session
(or, by mistake, one). The fold split, the pooled meta-test over several test speakers and a
whole training run on such a corpus are checked here.
"""

import dataclasses
import json
import re

import keras
import numpy as np
import pytest

from mmtl_tf import config, evaluation, folds


def _manifest(sessions: dict) -> dict:
    """A manifest with the fields `folds.fold_split` reads: {session: [speakers]}."""
    speakers = {speaker: {"session": session, "num_segments": 3,
                          "histograms": {"emotion": [1, 1, 1, 0]}}
                for session, names in sessions.items() for speaker in names}
    return {"corpus": "csv:test.csv", "class_names": ["neutral", "happy", "sad", "angry"],
            "speakers": speakers}


def test_a_session_of_four_has_one_validation_and_three_test_speakers():
    manifest = _manifest({"a": ["a1F", "a2M"], "b": ["b3M", "b1F", "b2F", "b4M"]})
    split = folds.fold_split(manifest, 2, "F")
    assert (split.session, split.validation, split.test) == ("b", "b1F", ("b2F", "b3M", "b4M"))
    assert split.train == ("a1F", "a2M")
    assert folds.fold_split(manifest, 2, "M").validation == "b3M"  # the first ending in M
    assert folds.fold_split(manifest, 2, "b4M").test == ("b1F", "b2F", "b3M")
    # Two speakers, as IEMOCAP's: one tested, and recorded as before (a string, not a list).
    two = folds.fold_split(manifest, 1, "F")
    assert (two.validation, two.test) == ("a1F", ("a2M",))
    assert folds.test_speaker_field(two) == "a2M"
    assert folds.test_speaker_field(split) == ["b2F", "b3M", "b4M"]
    for field in ("a2M", ["b2F", "b3M", "b4M"]):
        assert folds.recorded_test_speakers({"test_speaker": field}) == (
            [field] if isinstance(field, str) else field)


def test_a_single_speaker_session_is_refused_saying_what_to_do():
    manifest = _manifest({"1": ["s1", "s2"], "2": ["s3"]})
    with pytest.raises(ValueError, match=r"--fold=2: session 2 has the single speaker s3.*"
                                         r"sessions of two or more.*'session' column"):
        folds.fold_split(manifest, 2)
    assert folds.fold_split(manifest, 1).test == ("s2",)


@pytest.mark.parametrize("utterances, emotion, warned", [
    (1, [3, 0, 0, 0], True),  # one utterance: UA is 0 or 1
    (7, [2, 2, 2, 1], True),  # under two per class: some class has one
    (8, [2, 2, 2, 2], False),
    (3, [2, 1, 0, 0], True),
    (4, [4, 0, 0, 0], False),
    (None, [1, 0, 0, 0], False),  # a manifest without counts: nothing to judge
])
def test_a_validation_speaker_under_two_utterances_per_class_is_warned_of(utterances, emotion,
                                                                           warned):
    manifest = _manifest({"a": ["a1F", "a2M"], "b": ["b1F", "b2M", "b3M"]})
    manifest["speakers"]["b1F"]["histograms"]["emotion"] = emotion
    if utterances is not None:
        manifest["speakers"]["b1F"]["num_utterances"] = utterances
    warning = folds.small_validation_warning(manifest, folds.fold_split(manifest, 2, "F"))
    assert bool(warning) is warned
    if warned:
        classes = sum(1 for count in emotion if count)
        assert warning == (
            f"warning: --val_speaker picks b1F (fold 2), which has {utterances} utterance(s) of "
            f"{classes} emotion class(es): some class has a single utterance, whose recall is 0 "
            f"or 1, so the validation UA that selects the checkpoint moves by 1/{classes} with "
            f"one prediction. Choose a speaker of session b with at least two utterances per "
            f"class (--val_speaker=<id>: b2M, b3M), or give b1F more recordings")


TINY = config.ModelConfig(conv_filters=(3, 4), conv_kernels=((5, 3), (3, 3)), lstm_units=5,
                          fc_units=6, num_frames=24, num_bins=16)


def _speaker(rng, utterances, segments_each):
    count = utterances * segments_each
    segments = {"spectrogram": rng.normal(size=(count, 24, 16)).astype("float32"),
                "labels": np.repeat(rng.integers(0, 4, size=(utterances, 4)), segments_each,
                                    axis=0).astype("int32"),
                # The same utterance ids in both speakers: pooling must not merge them.
                "utterance_id": np.repeat([f"u{k}".encode() for k in range(utterances)],
                                          segments_each)}
    return segments, rng.uniform(0.3, 1.0, size=(4, 4)).astype("float32")


def test_several_test_speakers_are_each_adapted_alone_and_scored_together():
    from mmtl_tf.algorithms import build_algorithm

    keras.utils.set_random_seed(5)
    algorithm = build_algorithm(TINY, config.TrainConfig(aux_tasks=("arousal",)), 4)
    rng = np.random.default_rng(1)
    for variable in algorithm.head_variables():  # a head whose predictions adaptation can flip
        variable.assign(3 * rng.normal(size=variable.shape).astype("float32"))
    evaluator = evaluation.SpeakerEvaluator(algorithm, 2.0, 3, 4, seed=0)
    rng = np.random.default_rng(3)
    speakers = [_speaker(rng, 7, 2), _speaker(rng, 5, 3)]
    pooled = evaluator.evaluate_speakers(speakers, ["n", "h", "s", "a"])
    alone = [evaluator.evaluate(segments, weights, ["n", "h", "s", "a"])
             for segments, weights in speakers]
    assert any(a["adapted"] != a["no_adapt"] for a in alone)  # the adaptation moved something
    for setting in ("adapted", "no_adapt"):
        for mine, single in zip(pooled["per_speaker"], alone):
            assert mine[setting] == single[setting]
        confusion = np.sum([single[setting]["confusion"] for single in alone], axis=0)
        assert pooled[setting]["confusion"] == confusion.tolist()
        assert pooled[setting]["utterances"] == 12
        recall = [confusion[c, c] / confusion[c].sum() for c in range(4) if confusion[c].sum()]
        assert pooled[setting]["ua"] == pytest.approx(np.mean(recall))
        assert pooled[setting]["wa"] == pytest.approx(np.trace(confusion) / confusion.sum())


def test_a_run_on_a_session_of_four_tests_three_speakers(tmp_path, capsys):
    """Session 2 of the synthetic corpus takes session 3's speakers; fold 2 validates on 2F and
    tests 2M, 3F and 3M together (results.json lists them and scores each). Speaker 4M gets a
    session 6 of its own: preparation warns that sessions 4 and 6 cannot be held out."""
    from mmtl_tf import experiments, preparation, training
    from mmtl_tf.corpora import synthetic
    from conftest import smoke_features

    listing = synthetic.read_synthetic(str(tmp_path / "corpus"), utterances_per_speaker=4,
                                       max_seconds=4.0)
    moved = {"3F": "2", "3M": "2", "4M": "6"}
    listing.utterances = [dataclasses.replace(u, session=moved.get(u.speaker, u.session))
                          for u in listing.utterances]
    feature_config = smoke_features()
    capsys.readouterr()
    preparation.prepare_corpus(listing, feature_config, str(tmp_path / "shards"),
                               show_progress=False)
    printed = capsys.readouterr().out
    assert "folds: --fold=1..5, one per session (1, 2, 4, 5, 6)" in printed
    assert "session 4 has the single speaker 4F, so --fold=3 cannot" in printed
    assert "session 6 has the single speaker 4M, so --fold=5 cannot" in printed
    assert "session 2 has" not in printed and "session 5 has" not in printed
    assert "so --fold=all is refused; --fold=1,2,4 runs every fold that can" in printed
    model = dataclasses.replace(TINY, num_frames=feature_config.max_frames,
                                num_bins=feature_config.num_bins)
    experiment = config.ExperimentConfig(
        features=feature_config, model=model,
        train=config.TrainConfig(model="mmtl", train_steps=1, segments_per_speaker=2,
                                 test_adapt_steps=1),
        tfrecord_dir=str(tmp_path / "shards"), run_dir=str(tmp_path / "run"), fold=2,
        preset="smoke", export=False)
    with pytest.raises(ValueError, match="--fold=3: session 4 has the single speaker 4F"):
        training.check_data(dataclasses.replace(experiment, fold=3))
    results = training.train_and_evaluate(experiment)
    validation_line = next(line for line in capsys.readouterr().out.splitlines()
                           if line.startswith("  validation 2F:"))
    assert re.match(r"  validation 2F: UA [\d.]+ WA [\d.]+(, every utterance predicted "
                    r"(neu|hap|sad|ang))? \(no adaptation: UA", validation_line), validation_line
    stored = json.loads((tmp_path / "run" / "results.json").read_text())
    assert stored == json.loads(json.dumps(results))
    assert (stored["val_speaker"], stored["test_speaker"]) == ("2F", ["2M", "3F", "3M"])
    per_speaker = stored["test_per_speaker"]
    assert list(per_speaker) == ["2M", "3F", "3M"]
    assert sum(s["utterances"] for s in per_speaker.values()) == stored["test_utterances"] == 12
    assert np.sum(stored["confusion"]) == 12
    assert "test 2M, 3F, 3M: UA" in experiments.describe(stored)  # the run's last line
    record = json.loads((tmp_path / "run" / "config.json").read_text())
    assert record["test_speaker"] == ["2M", "3F", "3M"]
    assert record["train_speakers"] == ["1F", "1M", "4F", "5F", "5M", "4M"]  # by session


def test_sessions_numbered_past_nine_make_folds_in_numeric_order():
    manifest = _manifest({str(n): [f"{n}a", f"{n}b"] for n in (1, 2, 10, 11, 9)})
    held_out = [folds.fold_split(manifest, fold).session for fold in range(1, 6)]
    assert held_out == ["1", "2", "9", "10", "11"]
    from mmtl_tf import corpora
    named = ["s10", "s9", "Session2", "session10", "s09", "a"]
    assert sorted(named, key=corpora.natural_order) == ["Session2", "a", "s09", "s9", "s10",
                                                        "session10"]

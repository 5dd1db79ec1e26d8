"""Which folds run, and what a fold's held-out data makes of its numbers.

A corpus with a single-speaker session cannot hold that session out: `--fold=all` names every
such fold up front with the list of the others (`--fold=1,2,4`), which runs as `all` does. Fold
warnings say when no training speaker has a class the test speakers have, and when the
validation speaker lacks classes (its UA, which selects the checkpoint, ignores them).
"""

import json

import pytest

from conftest import run_main_in_process
from mmtl_tf import experiments, folds
from test_cli_flags import parse, usage_error
from mmtl_tf import cli_flags, experiment_setup


def _manifest(speakers: dict) -> dict:
    """{speaker: (session, emotion histogram, utterances)} -> the manifest fields folds read."""
    return {"corpus": "csv:test.csv", "class_names": ["neutral", "happy", "sad", "angry"],
            "speakers": {name: {"session": session, "num_segments": sum(histogram),
                                "num_utterances": utterances,
                                "histograms": {"emotion": histogram}}
                         for name, (session, histogram, utterances) in speakers.items()}}


EVERY = [2, 2, 2, 2]
STRUCTURE = _manifest({"a1F": ("A", EVERY, 8), "a2M": ("A", EVERY, 8), "a3M": ("A", EVERY, 8),
                       "b1F": ("B", EVERY, 8), "b2M": ("B", EVERY, 8),
                       "c1M": ("C", EVERY, 8),
                       "d1F": ("D", EVERY, 8), "d2M": ("D", EVERY, 8),
                       "e1M": ("E", EVERY, 8)})


def test_fold_all_names_every_single_speaker_session_and_the_folds_that_can_run():
    with pytest.raises(ValueError) as raised:
        experiments.resolve_folds("all", STRUCTURE)
    message = str(raised.value)
    assert message.startswith("--fold=all: 2 of the folds asked for cannot hold out")
    assert "fold 3 (session C: the single speaker c1M)" in message
    assert "fold 5 (session E: the single speaker e1M)" in message
    assert "--fold=1,2,4 (their summary then covers 3 of the 5 sessions" in message
    assert "'session' column" in message
    # a list runs those folds, sorted and once each; a list holding a blocked fold is refused
    assert experiments.resolve_folds("4, 1,2,1", STRUCTURE) == [1, 2, 4]
    with pytest.raises(ValueError, match=r"--fold=1,3: .*fold 3 \(session C.*Run --fold=1 alone"):
        experiments.resolve_folds("1,3", STRUCTURE)
    with pytest.raises(ValueError, match=r"--fold=1,6: .* has 5 sessions, so --fold is one of "
                                         r"1..5, a list of them"):
        experiments.resolve_folds("1,6", STRUCTURE)
    # one fold alone: fold_split's own message, as before
    assert experiments.resolve_folds("3", STRUCTURE) == [3]
    with pytest.raises(ValueError, match="--fold=3: session C has the single speaker c1M"):
        folds.fold_split(STRUCTURE, 3)


def test_fold_lists_parse_and_run_each_fold_with_a_summary(synthetic_shards, tmp_path, capsys):
    assert parse(cli_flags.MAIN, "--fold=1,3")["fold"].value == "1,3"
    assert "session number" in usage_error(cli_flags.MAIN, "--fold=1,,3")
    flag_values = parse(cli_flags.MAIN, "--fold=3,1", "--preset=smoke")
    assert experiment_setup.every_fold(flag_values)
    assert not experiment_setup.every_fold(parse(cli_flags.MAIN, "--fold=3"))
    experiment = experiment_setup.build_experiment(flag_values, "shards", "csv:x")
    assert experiment.fold == 3 and "fold3-1-" in experiment.run_dir
    tfrecord_dir = synthetic_shards[0]
    run_main_in_process(f"--tfrecord_dir={tfrecord_dir}", "--model=cnn_lstm", "--fold=3,1",
                        "--train_steps=1", f"--run_dir={tmp_path / 'run'}")
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert [row["fold"] for row in summary["folds"]] == [1, 3]
    assert sorted(path.name for path in (tmp_path / "run").glob("fold*")) == ["fold1", "fold3"]
    assert "over 2 fold(s)" in capsys.readouterr().out
    title = (tmp_path / "run" / "summary.md").read_text().splitlines()[0]
    assert title.startswith("# CNN-LSTM on synthetic: 2 of the 5 folds of leave-one-session-out "
                            "cross-validation")  # was "2-fold cross-validation"


def test_a_class_no_training_speaker_has_is_warned_of():
    manifest = _manifest({"a1F": ("A", [2, 2, 0, 2], 6), "a2M": ("A", [2, 2, 0, 2], 6),
                          "b1F": ("B", [2, 2, 3, 2], 9), "b2M": ("B", [2, 2, 1, 2], 7)})
    warnings = folds.fold_warnings(manifest, folds.fold_split(manifest, 2))
    assert warnings == ["no training speaker has class sad (4 held-out segments), so the model "
                        "cannot learn it while the test UA counts its recall; regroup the "
                        "corpus' sessions, or leave the class out (--classes)"]
    validating, testing = folds.fold_warnings(manifest, folds.fold_split(manifest, 1))
    assert validating.startswith("the validation speaker a1F (6 utterances) has no sad")
    assert testing == ("the test speaker(s) a2M have no sad, so the test UA is the recall of "
                       "neutral, happy, angry alone (chance 1/3, not 1/4)")


def test_a_validation_speaker_lacking_classes_is_warned_of_naming_a_better_one():
    manifest = _manifest({"a1F": ("A", EVERY, 8), "a2M": ("A", EVERY, 8),
                          "b1F": ("B", [0, 0, 0, 2], 2), "b2M": ("B", EVERY, 8),
                          "b3M": ("B", EVERY, 8)})
    (warning,) = folds.fold_warnings(manifest, folds.fold_split(manifest, 2))
    assert warning == ("the validation speaker b1F (2 utterances) has no neutral, happy, sad, "
                       "so the UA that selects the checkpoint is the recall of angry alone (a "
                       "model predicting it everywhere scores 1.0); `--fold=2 --val_speaker=b2M` "
                       "runs this fold on a validation speaker with every class")
    assert folds.fold_warnings(manifest, folds.fold_split(manifest, 2, "b2M")) == []
    manifest["speakers"]["b1F"]["num_utterances"] = 1
    (warning,) = folds.fold_warnings(manifest, folds.fold_split(manifest, 2))
    assert warning.startswith("the validation speaker b1F (1 utterance) has no neutral")


def test_prepare_lists_a_corpus_of_single_speaker_sessions_in_one_warning(capsys):
    """A corpus whose sessions are its speakers (no recording sessions: the CSV repeats the
    speaker) had one warning line per speaker; now one line lists them, and --fold=all's
    refusal names the first five and how many more."""
    from mmtl_tf import preparation_summary
    zero = [0, 0, 0, 0]
    manifest = _manifest({f"spk{n}": (f"spk{n}", EVERY, 8) for n in range(1, 8)})
    for entry in manifest["speakers"].values():
        entry["histograms"].update(valence=zero, arousal=zero, dominance=zero)
    manifest.update(totals={"utterances": 56, "segments": 56}, excluded={}, missing_files=[],
                    aux_available={})
    preparation_summary.print_summary(manifest, "shards", 1.0, 0)
    warnings = [line for line in capsys.readouterr().out.splitlines() if "single" in line]
    assert warnings == [
        "warning: 7 of the 7 sessions have a single speaker, so their folds cannot hold them out "
        "(one speaker validates, the others are tested): " + ", ".join(
            f"--fold={n} (session spk{n}: spk{n})" for n in range(1, 8))
        + ". Group speakers into sessions of two or more to use them."]
    with pytest.raises(ValueError) as raised:
        experiments.resolve_folds("all", manifest)
    assert "fold 5 (session spk5: the single speaker spk5); and 2 more" in str(raised.value)
    assert str(raised.value).endswith(". Group speakers into sessions of two or more (a CSV "
                                      "corpus: its 'session' column) and prepare again")


def test_a_speaker_id_of_another_session_names_its_own_fold():
    """`--fold=all --val_speaker=b2M` (the speaker a fold warning suggested) failed at fold 1
    saying b2M is "neither F, M nor a speaker of session A", as if the id were misspelled."""
    with pytest.raises(ValueError) as raised:
        folds.fold_split(STRUCTURE, 1, "b2M")
    assert str(raised.value) == (
        "--val_speaker=b2M is a speaker of session B (--fold=2), not of session A, which "
        "--fold=1 holds out (a1F, a2M, a3M); a speaker id validates its own fold only, so with "
        "several folds give F or M")
    assert folds.fold_split(STRUCTURE, 2, "b2M").validation == "b2M"
    with pytest.raises(ValueError, match="'zz' is neither F, M nor a speaker of session A"):
        folds.fold_split(STRUCTURE, 1, "zz")


def test_an_auxiliary_task_rated_in_other_sessions_only_is_warned_of():
    """A corpus rated on arousal in session B only: fold 2 trained the arousal task on no label
    at all, and fold 1's test speaker was "adapted" on no label, without a word."""
    manifest = _manifest({"a1F": ("A", EVERY, 8), "a2M": ("A", EVERY, 8),
                          "b1F": ("B", EVERY, 8), "b2M": ("B", EVERY, 8)})
    for name, entry in manifest["speakers"].items():
        entry["histograms"]["arousal"] = [0, 0, 4, 4] if name.startswith("b") else [0, 0, 0, 0]
    assert folds.fold_warnings(manifest, folds.fold_split(manifest, 2), ("arousal",)) == [
        "no training speaker is rated on arousal, so the arousal task learns nothing in this "
        "fold (the corpus rates other sessions)"]
    assert folds.fold_warnings(manifest, folds.fold_split(manifest, 1), ("arousal",)) == [
        "test speaker(s) a2M are not rated on arousal, so adapting to their arousal labels "
        "changes nothing: their adapted and not adapted scores are one model's"]
    assert folds.fold_warnings(manifest, folds.fold_split(manifest, 1)) == []

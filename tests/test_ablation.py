"""The adaptation ablation (`python -m mmtl_tf.ablation`) on the shared trained run.

Its test column must be the run's own meta-test when it is given the run's own setting (the
selected checkpoint, 1 SGD step at alpha): `results.json`'s `ua` and `ua_no_adapt`. Settings of one
optimizer share one evaluator's traced functions, and an evaluator with other step counts gives
what a fresh evaluator with those counts gives, from the same traces.
"""

import json
import os

import numpy as np
import pytest

import trained_run
from mmtl_tf import ablation, episodes, evaluation, tfrecords


def test_the_runs_own_setting_reproduces_its_results_and_sgd_settings_share_one_trace():
    run_dir = trained_run.run_dir()
    results = json.load(open(os.path.join(run_dir, "results.json"), encoding="utf-8"))
    grid = ablation.settings_grid([0, 1, 2], ["sgd", "adam"])
    assert grid == [("none", 0), ("sgd", 1), ("sgd", 2), ("adam", 1), ("adam", 2)]
    row = ablation.ablate_run(run_dir, grid, with_test=True)
    assert (row["model"], row["fold"]) == ("mmtl", 2)
    assert row["scores"]["none"]["test"] == results["ua_no_adapt"]
    assert row["scores"]["sgd x1"]["test"] == results["ua"]
    assert set(row["scores"]) == {"none", "sgd x1", "sgd x2", "adam x1", "adam x2"}
    assert all(0.0 <= score <= 1.0 for scores in row["scores"].values() for score in scores.values())


def test_an_evaluator_with_other_steps_adapts_as_a_fresh_one_and_shares_its_traces():
    """The step count is the first dimension of the batches tensor, None in the adaptation's
    input signature: every count reuses the evaluator's one trace."""
    algorithm = trained_run.trained_algorithm()
    record = json.load(open(os.path.join(trained_run.run_dir(), "config.json"), encoding="utf-8"))
    tfrecord_dir = os.path.join(os.path.dirname(trained_run.run_dir()), "tfrecords")
    manifest = tfrecords.load_manifest(tfrecord_dir, trained_run.FEATURE_CONFIG)
    speaker = record["val_speaker"]
    segments = episodes.speaker_segments(tfrecord_dir, manifest, speaker, trained_run.FEATURE_CONFIG)
    weights = episodes.class_weights(manifest, [speaker], len(record["class_names"]))[0]
    one_step = evaluation.SpeakerEvaluator(algorithm, 0.05, 1, 4, seed=3)
    one_step.adapted_weights(segments, weights)
    one_step.with_adapt_steps(2).adapted_weights(segments, weights)
    traces = one_step._adapt.experimental_get_tracing_count()  # pylint: disable=protected-access
    three_steps = one_step.with_adapt_steps(3)
    shared = three_steps.adapted_weights(segments, weights)
    fresh = evaluation.SpeakerEvaluator(algorithm, 0.05, 3, 4, seed=3).adapted_weights(segments, weights)
    for mine, expected in zip(shared, fresh):
        np.testing.assert_allclose(np.asarray(mine), np.asarray(expected), rtol=1e-6, atol=1e-7)
    traced = three_steps._adapt.experimental_get_tracing_count()  # pylint: disable=protected-access
    assert traced == traces == 1
    assert one_step.adapt_steps == 1 and three_steps.adapt_steps == 3


def test_runs_without_checkpoints_are_named_and_corpora_are_never_pooled(tmp_path, capsys):
    """A run whose checkpoints are gone was silently left out of the table; runs of several
    corpora were pooled into one row per model, titled with the first run's corpus."""
    from conftest import run_command_in_process  # pylint: disable=import-outside-toplevel
    results = json.load(open(os.path.join(trained_run.run_dir(), "results.json"), encoding="utf-8"))
    for name, corpus, with_checkpoints in (("synthetic", "synthetic", True),
                                           ("iemocap", "iemocap", True), ("bare", "synthetic", False)):
        folder = tmp_path / name / "fold2"
        os.makedirs(folder / "checkpoints" if with_checkpoints else folder)
        (folder / "results.json").write_text(json.dumps(dict(results, corpus=corpus)))
    runs, skipped = ablation.finished_runs([str(tmp_path)])
    assert runs == [str(tmp_path / "iemocap" / "fold2"), str(tmp_path / "synthetic" / "fold2")]
    assert skipped == [(str(tmp_path / "bare" / "fold2"), ablation.NO_CHECKPOINTS)]
    capsys.readouterr()
    with pytest.raises(SystemExit):
        run_command_in_process("ablation", f"--output={tmp_path / 'out'}", str(tmp_path))
    captured = capsys.readouterr()
    assert f"skipped {tmp_path / 'bare' / 'fold2'}: results.json but no checkpoints/" in captured.out
    assert (f"error: runs of several corpora: iemocap ({tmp_path / 'iemocap' / 'fold2'}), "
            f"synthetic ({tmp_path / 'synthetic' / 'fold2'}); ablate one corpus at a time"
            in captured.err)
    assert not os.path.exists(f"{tmp_path / 'out'}.md")
    markdown = ablation.render_markdown({}, "synthetic", False, skipped)
    assert "not IEMOCAP results" in markdown.splitlines()[0] and "Not in the table: " in markdown

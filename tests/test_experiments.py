"""Experiments: every model in the one loop, `--fold=all` with its summary, resuming, the sweep."""

import contextlib
import dataclasses
import glob
import io
import json
import os
import re

import numpy as np
import pytest

from conftest import SMOKE_FLAGS, run_command_in_process, run_main_in_process
from mmtl_tf import config, experiments, report_rendering

METRICS = ("ua", "wa", "ua_no_adapt", "wa_no_adapt")


def tiny_experiment(shards, run_dir, model, **train_overrides):
    """An ExperimentConfig with flags/smoke.cfg's network, 2 outer steps, B=2, one adaptation step."""
    tfrecord_dir, feature_config, _ = shards
    model_config = config.ModelConfig(conv_filters=(4, 4, 4), conv_kernels=((5, 5), (3, 3), (3, 3)),
                                      lstm_units=8, fc_units=8, num_frames=feature_config.max_frames,
                                      num_bins=feature_config.num_bins)
    train = config.TrainConfig(model=model, train_steps=2, segments_per_speaker=2,
                               test_adapt_steps=1, **train_overrides)
    return config.ExperimentConfig(features=feature_config, model=model_config, train=train,
                                   tfrecord_dir=tfrecord_dir, run_dir=str(run_dir), fold=2,
                                   preset="smoke", export=False)


@pytest.mark.parametrize("model", ["mmtl", "mtl", "cnn_lstm"])
def test_each_model_trains_and_evaluates_in_the_shared_loop(synthetic_shards, tmp_path, model):
    from mmtl_tf import training

    experiment = tiny_experiment(synthetic_shards, tmp_path / model, model)  # aux: the default vad
    results = training.train_and_evaluate(experiment)
    stored = json.load(open(tmp_path / model / "results.json"))
    assert stored["ua"] == results["ua"] and stored["model"] == model
    assert stored["aux"] == ("-" if model == "cnn_lstm" else "vad")
    confusion = np.array(stored["confusion"])
    assert confusion.sum() == stored["test_utterances"] > 0
    assert all(0.0 <= stored[metric] <= 1.0 for metric in METRICS)
    assert np.isclose(stored["wa"], np.trace(confusion) / confusion.sum())
    if model == "cnn_lstm":  # nothing to adapt on: adapted and plain are the same model
        assert (stored["ua"], stored["wa"]) == (stored["ua_no_adapt"], stored["wa_no_adapt"])
    assert experiments.is_finished(experiment)
    changed = dataclasses.replace(experiment, train=dataclasses.replace(experiment.train, seed=1))
    assert not experiments.is_finished(changed)
    same_results = dataclasses.replace(experiment, train=dataclasses.replace(
        experiment.train, parallel_speakers=1))  # how the passes overlap, not what they compute
    assert experiments.is_finished(same_results)
    config_path = tmp_path / model / "config.json"
    record = json.loads(config_path.read_text())
    del record["experiment"]["train"]["parallel_speakers"]  # as a run of an older version wrote it
    config_path.write_text(json.dumps(record))
    assert experiments.is_finished(experiment)


def test_resolve_folds_reads_the_session_count(synthetic_shards):
    manifest = synthetic_shards[2]
    assert experiments.resolve_folds("all", manifest) == [1, 2, 3, 4, 5]
    assert experiments.resolve_folds("3", manifest) == [3]
    for bad in ("0", "6", "x", "-1"):
        with pytest.raises(ValueError, match="--fold"):
            experiments.resolve_folds(bad, manifest)


def test_clear_run_removes_outputs_and_keeps_flags(tmp_path):
    for name in ("checkpoints/latest", "tensorboard", "export/1"):
        os.makedirs(tmp_path / name)
    for name in ("results.json", "config.json", "confusion_matrix.png", "flags.txt"):
        (tmp_path / name).write_text("{}")
    experiments.clear_run(str(tmp_path))
    assert sorted(os.listdir(tmp_path)) == [".lock", "flags.txt"]  # the run lock's file stays


@pytest.fixture(scope="module")
def all_folds(synthetic_shards, tmp_path_factory):
    """`main --fold=all` (cnn_lstm, 2 steps a fold, default run_dir under a scratch cwd): main's
    body in this process (the command runs end to end in tests/test_main_end_to_end.py)."""
    cwd = tmp_path_factory.mktemp("all_folds")
    output, previous = io.StringIO(), os.getcwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(output):
            run_main_in_process(f"--tfrecord_dir={synthetic_shards[0]}", "--fold=all",
                                "--train_steps=2", "--model=cnn_lstm", "--aux=va")
    finally:
        os.chdir(previous)
    stdout = output.getvalue()
    run_dirs = glob.glob(str(cwd / "runs" / "*"))
    assert len(run_dirs) == 1
    return run_dirs[0], stdout


def test_fold_all_summary_matches_numpy_over_the_fold_results(all_folds):
    run_dir, _ = all_folds
    assert os.path.basename(run_dir).startswith("synthetic-foldall---cnn_lstm-")  # aux is "-"
    fold_results = [json.load(open(os.path.join(run_dir, f"fold{k}", "results.json")))
                    for k in range(1, 6)]
    assert [r["fold"] for r in fold_results] == [1, 2, 3, 4, 5]
    assert {r["aux"] for r in fold_results} == {"-"}
    summary = json.load(open(os.path.join(run_dir, "summary.json")))
    assert summary["count"] == 5 and len(summary["folds"]) == 5
    for metric in METRICS:
        values = np.array([r[metric] for r in fold_results])
        assert summary["mean"][metric] == pytest.approx(values.mean(), abs=1e-12)
        assert summary["std"][metric] == pytest.approx(values.std(ddof=1), abs=1e-12)
    markdown = open(os.path.join(run_dir, "summary.md")).read()
    assert markdown.startswith("# CNN-LSTM on synthetic: 5-fold cross-validation "
                               "(synthetic corpus — not IEMOCAP results)")
    fold_rows = [line for line in markdown.splitlines() if line[:4] in {f"| {k} " for k in range(1, 6)}]
    assert len(fold_rows) == 5
    mean_row = next(line for line in markdown.splitlines() if line.startswith("| mean ± std"))
    expected = report_rendering.format_percent(summary["mean"]["ua"], summary["std"]["ua"])
    assert f"| {expected} |" in mean_row
    # --train_steps=2 changed the smoke preset: starred and footnoted, as `report` marks it
    assert "Preset smoke*." in markdown
    assert "\\* preset smoke*: not the smoke preset's settings (train_steps=2 (smoke: 0))." in markdown
    from mmtl_tf import preset_settings, reporting
    collected = reporting.collect([run_dir])
    (row,) = reporting.build_tables(collected, preset_settings.preset_defaults(["smoke"]))["table2"][0]["rows"]
    assert (row["preset"], [list(item) for item in row["overrides"]]) == (
        summary["preset"], summary["preset_overrides"])


def test_rerunning_fold_all_skips_finished_folds(all_folds, synthetic_shards, capsys):
    run_dir, first_stdout = all_folds
    progress = re.compile(r"step \d+/\d+ \(")  # the progress line a training run prints
    assert progress.search(first_stdout), first_stdout
    paths = [os.path.join(run_dir, f"fold{k}", "results.json") for k in range(1, 6)]
    before = [os.stat(path).st_mtime_ns for path in paths]
    capsys.readouterr()
    run_main_in_process(f"--tfrecord_dir={synthetic_shards[0]}", "--fold=all", "--train_steps=2",
                        "--model=cnn_lstm", "--aux=vad", f"--run_dir={run_dir}")  # main's body
    stdout = capsys.readouterr().out
    assert stdout.count("finished with the same settings, skipped") == 5  # --aux: ignored by cnn_lstm
    assert progress.search(stdout) is None, stdout
    assert [os.stat(path).st_mtime_ns for path in paths] == before


def test_sweep_runs_each_combination_into_its_directory(synthetic_shards, tmp_path):
    # The sweep's body in this process (as the ablation's tests run it); the shared loop it
    # calls per combination runs end to end in main's subprocess test.
    run_command_in_process("sweep", f"--flagfile={SMOKE_FLAGS}",
                           f"--tfrecord_dir={synthetic_shards[0]}", "--fold=2", "--train_steps=2",
                           "--test_adapt_steps=1", "--aux_combinations=v,dv",
                           f"--run_dir={tmp_path}")
    for letters in ("v", "vd"):
        results = json.load(open(tmp_path / f"aux-{letters}" / "fold2" / "results.json"))
        assert (results["model"], results["aux"], results["fold"]) == ("mmtl", letters, 2)
        assert (tmp_path / f"aux-{letters}" / "summary.md").exists()
    sweep = json.load(open(tmp_path / "summary.json"))
    assert list(sweep["combinations"]) == ["v", "vd"] and sweep["folds"] == [2]
    markdown = open(tmp_path / "summary.md").read()
    # --train_steps and --test_adapt_steps changed the smoke preset: starred, as `report` does
    assert "| MMTL(V) | smoke* | 1 |" in markdown and "| MMTL(V+D) | smoke* | 1 |" in markdown
    assert ("MMTL(V), preset smoke*: not the smoke preset's settings (test_adapt_steps=1 "
            "(smoke: 2), train_steps=2 (smoke: 0))") in markdown
    assert "Preset smoke*." in open(tmp_path / "aux-v" / "summary.md").read()
    assert "synthetic corpus — not IEMOCAP results" in markdown


def test_sweep_of_cnn_lstm_is_refused():  # the flags: tests/test_cli_flags.py
    experiment = config.ExperimentConfig(
        features=config.FeatureConfig(), model=config.ModelConfig(),
        train=config.TrainConfig(model="cnn_lstm"), tfrecord_dir="unused", run_dir="unused")
    with pytest.raises(ValueError, match="cnn_lstm"):
        experiments.run_sweep(experiment, [1])


def test_a_finished_fold_without_its_savedmodel_is_exported_not_skipped(tmp_path, monkeypatch):
    """A run killed while exporting (or trained with --noexport, rerun with --export) is
    finished but owes its SavedModel: the rerun exports it, once."""
    import mmtl_tf.export as export_lib

    exported = []

    def fake_export(run_dir):
        folder = os.path.join(run_dir, "export", "1")
        os.makedirs(folder)
        open(os.path.join(folder, "saved_model.pb"), "wb").close()
        exported.append(run_dir)
        return folder

    run_dir = tmp_path / "fold1"
    os.makedirs(run_dir / "export" / ".export-123-abc")  # an interrupted export's staging
    (run_dir / "results.json").write_text(json.dumps({"ua": 0.5}))
    monkeypatch.setattr(experiments, "is_finished", lambda experiment: True)
    monkeypatch.setattr(export_lib, "export_run", fake_export)
    experiment = config.ExperimentConfig(
        features=config.FeatureConfig(), model=config.ModelConfig(), train=config.TrainConfig(),
        tfrecord_dir="shards", run_dir=str(run_dir), fold=1)
    lines = []
    assert not experiments.has_export(str(run_dir))
    results = experiments.run_fold(dataclasses.replace(experiment, export=False), log=lines.append)
    assert results == {"ua": 0.5} and exported == []
    results = experiments.run_fold(dataclasses.replace(experiment, export=True), log=lines.append)
    assert exported == [str(run_dir)] and results["export_dir"].endswith("export/1")
    assert experiments.has_export(str(run_dir)) and "exported its selected checkpoint" in lines[-1]
    experiments.run_fold(dataclasses.replace(experiment, export=True), log=lines.append)
    assert exported == [str(run_dir)]  # not again

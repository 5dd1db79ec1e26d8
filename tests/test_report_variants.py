"""Reports pool only runs of one configuration: hand-built run directories (config.json from
`main`'s own flags, results.json) become separate rows for other settings, one row for other
seeds, and a `paper*` preset for a run that overrode the paper preset's settings."""

import csv
import json
import os

import pytest
from absl import flags

from mmtl_tf import cli_flags, flag_configs, presets, report, reporting
from test_report import CLASSES, confusion_for


def _flag_record(flag_args, fold):
    """config.json's record of a `main` run with these flags, built the way main builds it."""
    flag_values = flags.FlagValues()
    cli_flags.define_command(cli_flags.MAIN, flag_values)
    flag_values(presets.with_preset(["main", *flag_args], flag_values))
    experiment = flag_configs.experiment_config_from_flags(
        flag_values, "tfrecords/synthetic", f"runs/x/fold{fold}", fold)
    return {"experiment": experiment.to_dict(), "corpus": "synthetic", "class_names": CLASSES,
            "val_speaker": f"{fold}F", "test_speaker": f"{fold}M"}


def write_flag_run(root, name, flag_args, fold, ua):
    """A finished run's config.json (from `flag_args`) and results.json under root/name/fold<k>."""
    record = _flag_record(flag_args, fold)
    train = record["experiment"]["train"]
    run_dir = os.path.join(root, name, f"fold{fold}")
    os.makedirs(run_dir)
    results = {"corpus": "synthetic", "preset": record["experiment"]["preset"],
               "model": train["model"], "aux": "vad", "fold": fold, "seed": train["seed"],
               "outer_update": train["outer_update"], "ua": ua, "wa": ua, "ua_no_adapt": ua,
               "wa_no_adapt": ua, "confusion": confusion_for((name, fold)), "class_names": CLASSES,
               "best_epoch": 1, "seconds": 10.0, "run_dir": run_dir}
    for file_name, data in (("config.json", record), ("results.json", results)):
        with open(os.path.join(run_dir, file_name), "w", encoding="utf-8") as handle:
            json.dump(data, handle)


def test_runs_with_other_training_settings_are_rows_of_their_own(tmp_path):
    """The audit's case: a first-order run and a reptile run with other steps and seed are two
    rows, each named by its values of the settings that differ, never one row over 2 "seeds"."""
    root = str(tmp_path / "runs")
    write_flag_run(root, "a", ["--preset=smoke", "--train_steps=4"], 1, 0.25)
    write_flag_run(root, "b", ["--preset=smoke", "--outer_update=reptile", "--seed=1",
                               "--train_steps=40", "--test_adapt_steps=0"], 1, 0.75)
    written = report.write_report([root], str(tmp_path / "out"))
    rows = [line for line in written["markdown"]["table2"].splitlines()
            if line.startswith("| MMTL")]
    assert rows == [
        "| MMTL (outer_update=first_order, test_adapt_steps=2, train_steps=4) | V+A+D | smoke* | 1 "
        "| 25.00 | 25.00 | 25.00 | 25.00 | 70.32 | 76.64 |",
        "| MMTL (outer_update=reptile, test_adapt_steps=0, train_steps=40) | V+A+D | smoke* | 1 "
        "| 75.00 | 75.00 | 75.00 | 75.00 | 70.32 | 76.64 |"]
    assert "Seeds" not in written["markdown"]["table2"]
    pngs = sorted(name for name in os.listdir(tmp_path / "out") if name.endswith(".png"))
    assert len(pngs) == 2 and all(name.startswith("confusion_synthetic_mmtl-vad_smoke-modified_")
                                  for name in pngs)  # one per row, neither overwriting the other

    # Only --outer_update differs (the seeds too, which rows pool): still two rows.
    only = str(tmp_path / "only")
    write_flag_run(only, "first", ["--preset=paper"], 1, 0.5)
    write_flag_run(only, "reptile", ["--preset=paper", "--outer_update=reptile", "--seed=1"], 1,
                   0.7)
    tables = reporting.build_tables(reporting.collect([only]))
    rows = tables["table2"][0]["rows"]
    assert [(row["method"], row["seeds"], row["mean"]["ua"]) for row in rows] == [
        ("MMTL (outer_update=first_order)", 1, 0.5), ("MMTL (outer_update=reptile)", 1, 0.7)]
    with pytest.raises(reporting.ReportError, match="different settings"):
        reporting.summarize(reporting.collect([only]))


def test_runs_differing_only_in_seed_and_fold_are_pooled(tmp_path):
    """Seeds and folds of one configuration are one row, whatever the settings that do not
    change results (run_dir, export, --parallel_speakers); folds whose validation speakers are
    named by id are one row too."""
    root = str(tmp_path / "runs")
    for seed in (0, 1):
        for fold in (1, 2):
            extra = ["--parallel_speakers=2", "--noexport"] if seed else []
            write_flag_run(root, f"seed{seed}", ["--preset=smoke", f"--seed={seed}", *extra], fold,
                           0.25 * (1 + seed + fold) / 2)
    written = report.write_report([root], str(tmp_path / "out"))
    (row,) = [line for line in written["markdown"]["table2"].splitlines()
              if line.startswith("| MMTL")]
    assert row.startswith("| MMTL | V+A+D | smoke | 4 | 2 | ")  # Runs 4, Seeds 2, unmodified
    assert "\\*" not in written["markdown"]["table2"]
    assert sorted(os.listdir(tmp_path / "out"))[0] == "confusion_synthetic_mmtl-vad_smoke.png"

    by_id = str(tmp_path / "by_id")
    for fold in (1, 2):
        write_flag_run(by_id, "run", ["--preset=smoke", f"--val_speaker={fold}M"], fold, 0.5)
    (row,) = reporting.build_tables(reporting.collect([by_id]))["table2"][0]["rows"]
    assert (row["method"], row["folds"]) == ("MMTL", 2)


def test_a_run_that_changed_its_presets_settings_is_marked_modified(tmp_path):
    """`--preset=paper --train_steps=1` is not the paper preset: `paper*`, with a footnote (and,
    in the CSV, the preset cell) naming the change, beside an unchanged paper run."""
    root = str(tmp_path / "runs")
    write_flag_run(root, "paper", ["--preset=paper", "--seed=3"], 1, 0.7)
    write_flag_run(root, "short", ["--preset=paper", "--train_steps=1"], 1, 0.3)
    written = report.write_report([root], str(tmp_path / "out"))
    markdown = written["markdown"]["table2"]
    rows = [line.split(" | ")[:3] for line in markdown.splitlines() if line.startswith("| MMTL")]
    assert rows == [["| MMTL (train_steps=0)", "V+A+D", "paper"],
                    ["| MMTL (train_steps=1)", "V+A+D", "paper*"]]
    assert ("\\* MMTL (train_steps=1) V+A+D, preset paper*: not the paper preset's settings "
            "(train_steps=1 (paper: 0)).") in markdown.splitlines()
    presets = [row["preset"] for row in csv.DictReader(open(tmp_path / "out" / "table2.csv",
                                                            encoding="utf-8"))]
    assert presets == ["paper", "paper* (train_steps=1 (paper: 0))"]

    alone = str(tmp_path / "alone")  # a single modified run: no other row to tell it from
    write_flag_run(alone, "short", ["--preset=paper", "--train_steps=1", "--lstm_units=8"], 1, 0.3)
    written = report.write_report([alone], str(tmp_path / "out2"))
    assert "| MMTL | V+A+D | paper* | 1 |" in written["markdown"]["table2"]
    assert "(lstm_units=8 (paper: 128), train_steps=1 (paper: 0))" in written["markdown"]["table2"]


def test_a_run_without_config_json_is_not_pooled_with_recorded_runs(tmp_path):
    """A results.json copied without its config.json cannot show its settings: it is a row of
    its own beside recorded runs, and a damaged config.json is named with what to do."""
    root = str(tmp_path / "runs")
    write_flag_run(root, "recorded", ["--preset=paper"], 1, 0.5)
    write_flag_run(root, "copied", ["--preset=paper", "--seed=1"], 1, 0.7)
    os.remove(os.path.join(root, "copied", "fold1", "config.json"))
    rows = reporting.build_tables(reporting.collect([root]))["table2"][0]["rows"]
    assert sorted((row["method"], row["folds"]) for row in rows) == [
        ("MMTL (settings from config.json)", 1),
        ("MMTL (settings not recorded: no config.json)", 1)]
    with open(os.path.join(root, "recorded", "fold1", "config.json"), "w",
              encoding="utf-8") as handle:
        handle.write("{")
    with pytest.raises(reporting.ReportError, match="config.json: not valid JSON.*fix or delete"):
        reporting.collect([root])


@pytest.mark.parametrize("corpus,label", [
    ("iemocap", "corpus: iemocap"),
    ("csv:metadata.csv", "corpus: csv:metadata.csv (not IEMOCAP results)"),
    ("synthetic", "corpus: synthetic. These numbers come from the generated synthetic corpus "
                  "and are not IEMOCAP results.")])
def test_a_runs_corpus_label_names_the_corpus_once_with_its_caveat(corpus, label):
    from mmtl_tf import corpus_notes  # pylint: disable=import-outside-toplevel

    assert corpus_notes.corpus_label(corpus) == label

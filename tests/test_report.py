"""Reports: hand-written results.json files become the exact Table 2/3 Markdown, CSV and confusion PNGs."""

import csv
import io
import json
import os
import shutil
import subprocess

import numpy as np
import pytest

from conftest import REPO, completed_in_process, python_command
from mmtl_tf import report, report_rendering, reporting

CLASSES = ["neu", "hap", "sad", "ang"]
# (corpus, preset, model, aux, fold): (ua, wa, ua_no_adapt, wa_no_adapt)
FIXTURE = {
    ("iemocap", "paper", "cnn_lstm", "vad", 1): (0.55, 0.64, 0.55, 0.64),  # an older run's letters
    ("iemocap", "paper", "cnn_lstm", "-", 2): (0.57, 0.66, 0.57, 0.66),
    ("iemocap", "paper", "mtl", "vad", 1): (0.60, 0.68, 0.58, 0.66),
    ("iemocap", "paper", "mtl", "vad", 2): (0.64, 0.70, 0.60, 0.68),
    ("iemocap", "paper", "mmtl", "vad", 1): (0.70, 0.75, 0.65, 0.70),
    ("iemocap", "paper", "mmtl", "vad", 2): (0.74, 0.79, 0.67, 0.74),
    ("iemocap", "paper", "mmtl", "v", 1): (0.60, 0.70, 0.50, 0.60),
    ("iemocap", "paper", "mmtl", "va", 1): (0.75, 0.78, 0.70, 0.72),
    ("iemocap", "paper", "mmtl", "va", 2): (0.75, 0.80, 0.70, 0.76),
    ("synthetic", "smoke", "cnn_lstm", "-", 1): (0.25, 0.25, 0.25, 0.25),
    ("synthetic", "smoke", "mmtl", "vad", 1): (0.25, 0.50, 0.25, 0.25),
    ("synthetic", "smoke", "mmtl", "vad", 2): (0.50, 0.50, 0.25, 0.75),
}

NOTE = ("Ours: mean ± sample standard deviation over folds (UA/WA in %); \"no adapt.\" skips "
        "meta-test fine-tuning. The paper (IEMOCAP) columns are the paper's published numbers, "
        "not ours.")
HEADER2 = ("| Method | Aux | Preset | Folds | UA (%) | WA (%) | UA no adapt. (%) | WA no adapt. (%) "
           "| paper (IEMOCAP) UA (%) | paper (IEMOCAP) WA (%) |\n|---|---|---|---|---|---|---|---|---|---|")
HEADER3 = ("| Model | Preset | Folds | UA (%) | WA (%) | UA no adapt. (%) | WA no adapt. (%) "
           "| paper (IEMOCAP) UA (%) | paper (IEMOCAP) WA (%) |\n|---|---|---|---|---|---|---|---|---|")
EXPECTED_TABLE2 = f"""## Table 2: comparison with baselines on iemocap

{NOTE}

{HEADER2}
| CNN-LSTM | - | paper | 2 | 56.00 ± 1.41 | 65.00 ± 1.41 | 56.00 ± 1.41 | 65.00 ± 1.41 | 56.60 | 65.80 |
| CNN-LSTM+MTL | V+A+D | paper | 2 | 62.00 ± 2.83 | 69.00 ± 1.41 | 59.00 ± 1.41 | 67.00 ± 1.41 | 64.31 | 68.84 |
| MMTL | V+A+D | paper | 2 | 72.00 ± 2.83 | 77.00 ± 2.83 | 66.00 ± 1.41 | 72.00 ± 2.83 | 70.32 | 76.64 |

MMTL with other auxiliary tasks (2 combination(s)): see Table 3.

## Table 2: comparison with baselines on synthetic (synthetic corpus — not IEMOCAP results)

{NOTE}

{HEADER2}
| CNN-LSTM | - | smoke | 1 | 25.00 | 25.00 | 25.00 | 25.00 | 56.60 | 65.80 |
| MMTL | V+A+D | smoke | 2 | 37.50 ± 17.68 | 50.00 ± 0.00 | 25.00 ± 0.00 | 50.00 ± 35.36 | 70.32 | 76.64 |
"""
EXPECTED_TABLE3 = f"""## Table 3: auxiliary-task selection (MMTL) on iemocap

{NOTE}

{HEADER3}
| MMTL(V) | paper | 1 | 60.00 | 70.00 | 50.00 | 60.00 | 65.60 | 71.99 |
| MMTL(V+A) | paper | 2 | 75.00 ± 0.00 | 79.00 ± 1.41 | 70.00 ± 0.00 | 74.00 ± 2.83 | 74.61 | 77.74 |
| MMTL(V+A+D) | paper | 2 | 72.00 ± 2.83 | 77.00 ± 2.83 | 66.00 ± 1.41 | 72.00 ± 2.83 | 70.32 | 76.64 |

## Table 3: auxiliary-task selection (MMTL) on synthetic (synthetic corpus — not IEMOCAP results)

{NOTE}

{HEADER3}
| MMTL(V+A+D) | smoke | 2 | 37.50 ± 17.68 | 50.00 ± 0.00 | 25.00 ± 0.00 | 50.00 ± 35.36 | 70.32 | 76.64 |
"""


def confusion_for(key):
    """A fixture confusion matrix that differs per run (rows: true class)."""
    seed = sum(ord(character) for character in "".join(map(str, key)))
    return np.random.default_rng(seed).integers(0, 5, size=(4, 4)).tolist()


def write_fixture(root, entries=FIXTURE):
    """Writes one results.json per entry under root/<corpus>/<model>-<aux>/fold<k>/."""
    for key, (ua, wa, ua_no_adapt, wa_no_adapt) in entries.items():
        corpus, preset, model, aux, fold = key
        run_dir = os.path.join(root, corpus, f"{model}-{aux}", f"fold{fold}")
        os.makedirs(run_dir)
        results = {"corpus": corpus, "preset": preset, "model": model, "aux": aux, "fold": fold,
                   "ua": ua, "wa": wa, "ua_no_adapt": ua_no_adapt, "wa_no_adapt": wa_no_adapt,
                   "confusion": confusion_for(key), "class_names": CLASSES, "best_epoch": 3,
                   "val_speaker": f"{fold}F", "test_speaker": f"{fold}M", "run_dir": run_dir}
        with open(os.path.join(run_dir, "results.json"), "w", encoding="utf-8") as handle:
            json.dump(results, handle)


@pytest.fixture
def fixture_root(tmp_path):
    write_fixture(str(tmp_path / "runs"))
    return str(tmp_path / "runs")


def test_markdown_tables_are_exactly_the_expected_text(fixture_root):
    tables = reporting.build_tables(reporting.collect([fixture_root]))
    assert report_rendering.render_markdown(tables["table2"]) == EXPECTED_TABLE2
    assert report_rendering.render_markdown(tables["table3"]) == EXPECTED_TABLE3


def test_csv_parses_back_to_the_fixture_statistics(fixture_root):
    tables = reporting.build_tables(reporting.collect([fixture_root]))
    rows = list(csv.DictReader(io.StringIO(report_rendering.render_csv(tables["table2"] + tables["table3"]))))
    assert len(rows) == 5 + 4
    groups = {}
    for (corpus, preset, model, aux, fold), values in FIXTURE.items():
        groups.setdefault((corpus, model, "-" if model == "cnn_lstm" else aux), []).append(values)
    methods = {"CNN-LSTM": ("cnn_lstm", "-"), "CNN-LSTM+MTL": ("mtl", "vad"), "MMTL": ("mmtl", "vad"),
               "MMTL(V)": ("mmtl", "v"), "MMTL(V+A)": ("mmtl", "va"), "MMTL(V+A+D)": ("mmtl", "vad")}
    checked = 0
    for row in rows:
        model_aux = methods[row["method"]]
        values = np.array(groups[(row["corpus"], *model_aux)]) * 100
        assert int(row["folds"]) == len(values)
        for index, metric in enumerate(reporting.METRICS):
            assert float(row[f"{metric}_mean"]) == pytest.approx(values[:, index].mean(), abs=1e-4)
            if len(values) > 1:
                assert float(row[f"{metric}_std"]) == pytest.approx(values[:, index].std(ddof=1), abs=1e-4)
            else:
                assert row[f"{metric}_std"] == ""
        checked += 1
        is_synthetic = row["corpus"] == "synthetic"
        assert (row["note"] == "synthetic corpus — not IEMOCAP results") == is_synthetic
    assert checked == len(rows)
    paper = {row["method"]: (row["paper_iemocap_ua"], row["paper_iemocap_wa"]) for row in rows
             if row["corpus"] == "iemocap"}
    assert paper["CNN-LSTM+MTL"] == ("64.31", "68.84") and paper["MMTL(V+A)"] == ("74.61", "77.74")


def test_paper_reference_numbers_follow_table3_row_order():
    assert list(reporting.TABLE3_PAPER) == ["v", "a", "d", "vd", "ad", "va", "vad"]
    assert [reporting.aux_label(letters) for letters in reporting.TABLE3_PAPER] == [
        "V", "A", "D", "V+D", "A+D", "V+A", "V+A+D"]
    assert reporting.TABLE3_PAPER["vad"] == reporting.TABLE2_PAPER[("mmtl", "vad")]


def test_combined_confusion_sums_the_folds(fixture_root):
    combined = {item["name"]: item for item in reporting.combined_confusions(reporting.collect([fixture_root]))}
    mmtl = combined["confusion_iemocap_mmtl-vad_paper"]
    expected = (np.array(confusion_for(("iemocap", "paper", "mmtl", "vad", 1)))
                + np.array(confusion_for(("iemocap", "paper", "mmtl", "vad", 2))))
    assert mmtl["folds"] == 2 and np.array_equal(mmtl["confusion"], expected)
    assert "confusion_iemocap_cnn_lstm-noaux_paper" in combined
    assert "not IEMOCAP" in combined["confusion_synthetic_mmtl-vad_smoke"]["title"]


def test_a_fold_reported_twice_is_refused(tmp_path):
    write_fixture(str(tmp_path / "a"), {("iemocap", "paper", "mmtl", "vad", 1): (0.7, 0.7, 0.7, 0.7)})
    write_fixture(str(tmp_path / "b"), {("iemocap", "paper", "mmtl", "vad", 1): (0.6, 0.6, 0.6, 0.6)})
    with pytest.raises(reporting.ReportError, match="fold 1 .* appears twice"):
        reporting.build_tables(reporting.collect([str(tmp_path / "a"), str(tmp_path / "b")]))


# Table 3 on synthetic would repeat Table 2's MMTL (V+A+D) row: it is left out.
EXPECTED_SELECTED_TABLE3 = EXPECTED_TABLE3[:EXPECTED_TABLE3.index("## Table 3: auxiliary-task "
                                                                  "selection (MMTL) on synthetic")]


def test_a_table_is_kept_only_where_it_has_rows_of_its_own(fixture_root, tmp_path):
    tables, notes = reporting.select_tables(reporting.build_tables(reporting.collect([fixture_root])))
    assert report_rendering.render_markdown(tables["table2"]) == EXPECTED_TABLE2
    assert report_rendering.render_markdown(tables["table3"]) == EXPECTED_SELECTED_TABLE3.rstrip("\n") + "\n"
    assert len(notes) == 1 and notes[0].startswith("Table 3 on synthetic left out")

    write_fixture(str(tmp_path / "one"), {("iemocap", "paper", "mmtl", "vad", 1): (0.7, 0.7, 0.7, 0.7)})
    tables, notes = reporting.select_tables(reporting.build_tables(reporting.collect([str(tmp_path / "one")])))
    assert [len(tables["table2"]), len(tables["table3"])] == [1, 0]  # the one row, printed once
    assert [row["method"] for row in tables["table2"][0]["rows"]] == ["MMTL"]
    assert "Table 3 on iemocap left out" in notes[0] and "mmtl_tf.sweep" in notes[0]

    write_fixture(str(tmp_path / "sweep"), {
        ("iemocap", "paper", "mmtl", aux, 1): (0.7, 0.7, 0.7, 0.7) for aux in ("v", "vad")})
    tables, notes = reporting.select_tables(reporting.build_tables(reporting.collect([str(tmp_path / "sweep")])))
    assert [len(tables["table2"]), len(tables["table3"])] == [0, 1]
    assert [row["method"] for row in tables["table3"][0]["rows"]] == ["MMTL(V)", "MMTL(V+A+D)"]
    assert "Table 2 on iemocap left out" in notes[0] and "--model=cnn_lstm" in notes[0]


def test_report_writes_tables_and_pngs(fixture_root, tmp_path):
    written = report.write_report([fixture_root], str(tmp_path / "out"))
    for name in ("table2.md", "table2.csv", "table3.md", "table3.csv",
                 "confusion_iemocap_mmtl-va_paper.png", "confusion_synthetic_cnn_lstm-noaux_smoke.png"):
        assert os.path.join(str(tmp_path / "out"), name) in written["files"], name
    assert open(tmp_path / "out" / "table2.md", encoding="utf-8").read() == EXPECTED_TABLE2
    assert open(tmp_path / "out" / "table3.md", encoding="utf-8").read() == written["markdown"]["table3"]
    csv_rows = list(csv.DictReader(open(tmp_path / "out" / "table3.csv", encoding="utf-8")))
    assert [row["corpus"] for row in csv_rows] == ["iemocap"] * 3  # no synthetic Table 3
    with open(tmp_path / "out" / "confusion_iemocap_mmtl-va_paper.png", "rb") as handle:
        assert handle.read(8) == b"\x89PNG\r\n\x1a\n"


def test_one_run_writes_one_table_and_no_table3_files(tmp_path):
    write_fixture(str(tmp_path / "runs"), {("synthetic", "demo", "mmtl", "vad", 2): (0.5, 0.5, 0.5, 0.5)})
    written = report.write_report([str(tmp_path / "runs")], str(tmp_path / "out"))
    assert list(written["markdown"]) == ["table2"]
    assert sorted(os.listdir(tmp_path / "out")) == [
        "confusion_synthetic_mmtl-vad_demo.png", "table2.csv", "table2.md"]
    printed = report.describe_report(written)
    assert printed.count("| MMTL |") == 1 and "note: Table 3 on synthetic left out" in printed


def test_unfinished_runs_are_skipped_and_named(fixture_root, tmp_path):
    unfinished = os.path.join(fixture_root, "iemocap", "mmtl-vd", "fold1")
    os.makedirs(os.path.join(unfinished, "checkpoints", "latest"))
    with open(os.path.join(unfinished, "config.json"), "w", encoding="utf-8") as handle:
        json.dump({"experiment": {}}, handle)
    # A killed multi-worker worker's scratch (a config.json, no results) inside a run is no run.
    finished = os.path.join(fixture_root, "iemocap", "mmtl-vad", "fold1")
    assert os.path.isfile(os.path.join(finished, "results.json"))
    scratch = os.path.join(finished, "workers", "worker1")
    os.makedirs(scratch)
    shutil.copy(os.path.join(finished, "results.json"), os.path.join(scratch, "config.json"))
    written = report.write_report([fixture_root], str(tmp_path / "out"))
    assert written["skipped"] == [(os.path.realpath(unfinished), reporting.UNFINISHED)]
    assert f"skipped {os.path.realpath(unfinished)}: unfinished" in report.describe_report(written)
    assert "MMTL(V+D)" not in written["markdown"]["table3"]

    only_unfinished = str(tmp_path / "only")
    os.makedirs(only_unfinished)
    with open(os.path.join(only_unfinished, "config.json"), "w", encoding="utf-8") as handle:
        handle.write("{}")
    with pytest.raises(reporting.ReportError, match="skipped 1 unfinished run"):
        report.write_report([only_unfinished], str(tmp_path / "out2"))
    assert not os.path.exists(tmp_path / "out2")


@pytest.mark.parametrize("field, value, message", [
    ("ua", "0.7", "ua is '0.7', not a number in [0, 1]"),
    ("wa", 1.5, "wa is 1.5, not a number in [0, 1]"),
    ("ua_no_adapt", None, "ua_no_adapt is None"),
    ("fold", True, "fold is True, not a positive integer"),
    ("aux", "vx", "aux 'vx' has unknown letter(s) x"),
    ("confusion", [[1, 2], [3]], "confusion is not a square matrix"),
    ("confusion", [[1, 2], [3, -1]], "non-negative integer counts"),
    ("confusion", [[1, 2], [3, 4]], "class_names ['neu', 'hap', 'sad', 'ang'] does not name the 2 rows"),
    ("corpus", None, "missing corpus"),
])
def test_a_damaged_results_file_is_named_with_the_field(tmp_path, field, value, message):
    write_fixture(str(tmp_path / "runs"), {("iemocap", "paper", "mmtl", "vad", 1): (0.7, 0.7, 0.7, 0.7)})
    path = os.path.join(str(tmp_path / "runs"), "iemocap", "mmtl-vad", "fold1", "results.json")
    results = json.load(open(path, encoding="utf-8"))
    if field == "corpus":
        del results[field]
    else:
        results[field] = value
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(results, handle)
    with pytest.raises(reporting.ReportError) as raised:
        reporting.collect([str(tmp_path / "runs")])
    assert str(raised.value).startswith(os.path.realpath(path) + ": ")
    assert message in str(raised.value) and "delete it" in str(raised.value)


def test_report_cli_writes_a_report_folder_and_one_error_line(fixture_root, tmp_path):
    before = sorted(os.path.relpath(os.path.join(root, name), fixture_root)
                    for root, _, files in os.walk(fixture_root) for name in files)
    damaged = tmp_path / "damaged" / "run"
    os.makedirs(damaged)
    (damaged / "results.json").write_text(json.dumps({
        "corpus": "iemocap", "model": "mmtl", "aux": "vad", "fold": 1, "ua": "high", "wa": 0.5,
        "ua_no_adapt": 0.5, "wa_no_adapt": 0.5}))
    process = subprocess.Popen(python_command("mmtl_tf.report", fixture_root), cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=_child_env())  # the command end to end
    completed = {"report": process.communicate(timeout=120) + (process.returncode,)}
    for name in ("missing", "damaged"):  # report's `run` in this process, inside its guard
        child = completed_in_process("report", str(tmp_path / ("nowhere" if name == "missing"
                                                                else "damaged")))
        completed[name] = (child.stdout, child.stderr, child.returncode)

    stdout, stderr, code = completed["report"]
    assert code == 0, stderr[-2000:]
    assert EXPECTED_SELECTED_TABLE3 in stdout
    folders = os.listdir(tmp_path / "reports")
    assert len(folders) == 1 and f"reports/{folders[0]}/table3.csv" in stdout
    assert os.path.isfile(tmp_path / "reports" / folders[0] / "table3.csv")
    after = sorted(os.path.relpath(os.path.join(root, name), fixture_root)
                   for root, _, files in os.walk(fixture_root) for name in files)
    assert after == before  # the run directories are not written to

    for name, expected in (("missing", "nowhere is not a directory"),
                           ("damaged", "ua is 'high', not a number")):
        stdout, stderr, code = completed[name]
        assert code == 1 and "Traceback" not in stderr, stderr[-2000:]
        errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and expected in errors[0], stderr[-2000:]


def _child_env():
    """The environment of a child `report`: this checkout first on the import path."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(
        [REPO] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))


def test_table2_shows_mmtl_with_the_most_auxiliary_tasks_run_on_its_corpus(tmp_path):
    root = str(tmp_path / "runs")
    write_fixture(root, {("ravdess", "ravdess", "cnn_lstm", "-", 1): (0.5, 0.5, 0.5, 0.5),
                         ("ravdess", "ravdess", "mmtl", "a", 1): (0.6, 0.6, 0.4, 0.4)})
    tables = reporting.build_tables(reporting.collect([root]))
    assert [row["method"] for row in tables["table2"][0]["rows"]] == ["CNN-LSTM", "MMTL"]
    assert tables["table2"][0]["rows"][1]["aux"] == "A" and tables["table2"][0]["omitted"] == 0
    selected, notes = reporting.select_tables(tables)
    assert selected["table3"] == [] and "Table 3 on ravdess left out" in notes[0]
    assert reporting.table2_aux(["a", "va", "vd", "v"]) == "vd"  # the paper's row order on ties
    assert reporting.table2_aux(["va", "vad", "a"]) == "vad" and reporting.table2_aux([]) is None


def test_seeds_pool_runs_and_give_the_standard_error_over_seeds(tmp_path):
    values = {(0, 1): 0.50, (0, 2): 0.70, (1, 1): 0.40, (1, 2): 0.50, (2, 1): 0.65, (2, 2): 0.75}
    root = str(tmp_path / "runs")
    for (seed, fold), ua in values.items():
        run_dir = os.path.join(root, f"seed{seed}", f"fold{fold}")
        os.makedirs(run_dir)
        results = {"corpus": "ravdess", "preset": "ravdess", "model": "mmtl", "aux": "a",
                   "fold": fold, "seed": seed, "ua": ua, "wa": ua, "ua_no_adapt": ua / 2,
                   "wa_no_adapt": ua / 2, "confusion": [[1, 0], [0, 1]], "class_names": ["x", "y"],
                   "best_epoch": 1, "seconds": 10.0, "run_dir": run_dir}
        with open(os.path.join(run_dir, "results.json"), "w", encoding="utf-8") as handle:
            json.dump(results, handle)
    summary = reporting.summarize(reporting.collect([root]))
    seed_means = [np.mean([values[(seed, fold)] for fold in (1, 2)]) for seed in range(3)]
    assert (summary["count"], summary["seeds"], summary["seconds"]) == (6, 3, 60.0)
    assert summary["mean"]["ua"] == pytest.approx(np.mean(list(values.values())))
    assert summary["std"]["ua"] == pytest.approx(np.std(list(values.values()), ddof=1))
    assert summary["sem"]["ua"] == pytest.approx(np.std(seed_means, ddof=1) / np.sqrt(3))
    assert summary["sem"]["ua_no_adapt"] == pytest.approx(summary["sem"]["ua"] / 2)
    markdown = report_rendering.render_markdown(reporting.build_tables(reporting.collect([root]))["table3"])
    assert "| Runs | Seeds |" in markdown and "standard error over seeds" in markdown
    assert "| Wall time (h) |" in markdown and "| 0.02 |" in markdown  # 6 runs x 10 s
    with pytest.raises(reporting.ReportError, match="seed 1"):
        reporting.summarize(reporting.collect([root]) + reporting.collect([os.path.join(root, "seed1")]))


def test_a_fold_predicting_one_class_is_named_in_the_summary_and_the_runs_last_line():
    from mmtl_tf import experiments, results_file
    spread = [[2, 1, 0, 0], [0, 3, 0, 0], [0, 2, 1, 0], [0, 1, 0, 1]]
    one_class = [[0, 4, 0, 0], [0, 8, 0, 0], [0, 8, 0, 0], [0, 8, 0, 0]]
    runs = [{"corpus": "csv:x.csv", "preset": "ravdess", "model": "mmtl", "aux": "a", "fold": fold,
             "ua": ua, "wa": 0.3, "ua_no_adapt": 0.3, "wa_no_adapt": 0.3, "confusion": confusion,
             "confusion_no_adapt": spread, "class_names": CLASSES, "best_epoch": 2,
             "val_speaker": f"{fold}F", "test_speaker": f"{fold}M", "run_dir": f"r/fold{fold}",
             "seconds": 10.0}
            for fold, ua, confusion in ((1, 0.45, spread), (2, 0.25, one_class))]
    assert results_file.collapsed_predictions(runs[0]) == []
    assert results_file.collapsed_predictions(runs[1]) == [
        "adapted: every test utterance predicted hap"]
    both = dict(runs[1], confusion_no_adapt=[[0, 0, 0, 1], [0, 0, 0, 2], [0, 0, 0, 0], [0, 0, 0, 1]])
    assert results_file.collapsed_predictions(both) == [
        "adapted: every test utterance predicted hap",
        "not adapted: every test utterance predicted ang"]
    assert results_file.single_predicted_class(one_class, CLASSES) == "hap"
    assert results_file.single_predicted_class(spread, CLASSES) is None
    assert results_file.single_predicted_class([[0, 3], [0, 2]], ["a"]) == "class 1"
    single_utterance = dict(runs[1], confusion=[[0, 1, 0, 0]] + [[0] * 4] * 3)
    assert results_file.collapsed_predictions(single_utterance) == []  # nothing to spread over
    markdown = report_rendering.render_fold_summary(reporting.summarize(runs))
    assert markdown.rstrip().endswith("Folds whose test predictions are a single class: fold 2 "
                                      "(adapted: every test utterance predicted hap).")
    assert "single class" not in report_rendering.render_fold_summary(reporting.summarize(runs[:1]))
    first, warning = experiments.describe(runs[1]).splitlines()
    assert first.startswith("[corpus: csv:x.csv (") and "\n" not in experiments.describe(runs[0])
    assert warning.startswith("warning: the model predicts a single class (adapted: every test "
                              "utterance predicted hap)")

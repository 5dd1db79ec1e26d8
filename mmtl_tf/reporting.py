"""Results tables shaped like the paper's Tables 2 and 3, from results.json files.

Pure functions, no TensorFlow:
1. `scan` finds every results.json under the given directories (recursively), and the run
   directories without one (unfinished: skipped, with the reason); `collect` reads the results
   (`results_file.read_results` checks each).
   Each result carries the settings its config.json records (`report_variants.read_settings`).
2. `summarize` (`report_summary`) turns the folds of one configuration into mean and sample
   standard deviation (ddof=1; none with a single fold) of UA and WA, with and without
   meta-test adaptation.
3. `build_tables` groups results by (corpus, preset, model, aux) and by every other
   result-deciding setting except the seed and the fold (`group`): runs that differ in any
   other setting are separate rows, each named by its values of the settings that differ, and
   a run that changed its preset's settings shows the preset as `paper*`, with a footnote
   (`report_variants`). It builds, per corpus,
   Table 2 (CNN-LSTM, CNN-LSTM+MTL, MMTL at V+A+D: method x UA/WA) and Table 3 (MMTL per
   auxiliary-task combination). Corpora are never mixed in one table.
   `select_tables` keeps a table only where it has rows of its own (a lone MMTL V+A+D row
   belongs to both: it is shown once, in Table 2).
4. `report_rendering` writes them as Markdown and CSV; every row carries the paper's IEMOCAP
   numbers, and a table on any corpus other than IEMOCAP says in its title that its numbers are
   not IEMOCAP results (`corpus_notes`).
"""

import json
import os

import numpy as np

from mmtl_tf import report_variants, results_file
from mmtl_tf.corpus_notes import corpus_note
from mmtl_tf.report_summary import mean_and_std, summarize  # noqa: F401 (re-exported)
from mmtl_tf.results_file import METRICS, NO_AUX, ReportError  # noqa: F401 (re-exported)

AUX_ORDER = ("v", "a", "d", "vd", "ad", "va", "vad")  # Table 3's row order
MODEL_ORDER = ("cnn_lstm", "mtl", "mmtl")
METHOD_NAMES = {"cnn_lstm": "CNN-LSTM", "mtl": "CNN-LSTM+MTL", "mmtl": "MMTL"}
TABLE2_PAPER = {("cnn_lstm", NO_AUX): (56.60, 65.80), ("mtl", "vad"): (64.31, 68.84),
                ("mmtl", "vad"): (70.32, 76.64)}  # UA/WA %, paper Table 2 (IEMOCAP)
TABLE3_PAPER = {"v": (65.60, 71.99), "a": (58.28, 65.71), "d": (54.25, 66.98),
                "vd": (73.22, 75.83), "ad": (55.26, 67.25), "va": (74.61, 77.74),
                "vad": (70.32, 76.64)}  # UA/WA %, paper Table 3 (IEMOCAP)
UNFINISHED = (f"unfinished: config.json but no {results_file.RESULTS_NAME} (still training, or "
              f"interrupted: rerun its command to resume it)")


def aux_label(letters: str) -> str:
    """`vad` -> `V+A+D`; `-` (no auxiliary tasks) stays `-`."""
    return NO_AUX if letters == NO_AUX else "+".join(letter.upper() for letter in letters)


def scan(directories):
    """Finds the results.json files and the unfinished runs under `directories`.

    Args:
      directories: run, fold or sweep directories, searched recursively.

    Returns:
      (results_paths, skipped): sorted real paths of results.json files, and (run directory,
      reason) pairs for run directories (they hold config.json) without results.json.

    Raises:
      ReportError: a directory does not exist.
    """
    paths, skipped = set(), {}
    for directory in directories:
        if not os.path.isdir(directory):
            raise ReportError(f"{directory} is not a directory; give run, fold or sweep "
                              f"directories (e.g. runs/<run>)")
        for root, folders, files in os.walk(directory):
            results_file.skip_scratch(files, folders)
            if results_file.RESULTS_NAME in files:
                paths.add(os.path.realpath(os.path.join(root, results_file.RESULTS_NAME)))
            elif "config.json" in files:
                skipped[os.path.realpath(root)] = UNFINISHED
    return sorted(paths), sorted(skipped.items())


def collect(directories) -> list:
    """Reads every results.json under `directories` (each a run, fold or sweep directory).

    Returns:
      Result dicts sorted by path, each with `results_path`, `preset` (default "custom") and
      `settings` (`report_variants.read_settings`: None without config.json beside it); `aux`
      in canonical letters, `-` for a cnn_lstm run (see `results_file.check_results`).

    Raises:
      ReportError: a directory does not exist, or a results.json or config.json is unreadable
        or damaged.
    """
    return [read_run(path) for path in scan(directories)[0]]


def read_run(path: str) -> dict:
    """One results.json as `collect` gives it: checked, with `results_path`, `preset` (default
    "custom") and `settings` (`report_variants.read_settings`: None without config.json).

    Raises:
      ReportError: the results.json or the config.json beside it is unreadable or damaged.
    """
    results = results_file.read_results(path)
    return dict(results, results_path=path, preset=results.get("preset", "custom"),
                settings=report_variants.read_settings(path))


def marked_summary(results_list, preset_defaults=None) -> dict:
    """`summarize` of one configuration's runs (`read_run` output), its `preset` starred as a
    report stars it (`report_variants.describe_variants`: `paper*` when the runs changed the
    preset's settings) and `preset_overrides` listing the changes ([key, value, preset's])."""
    # The folds of one command share their settings but for ones an older version did not
    # record: summarized together as before, starred when any fold changed the preset.
    summary = summarize([dict(results, settings=None) for results in results_list])
    overrides = {}
    for variant in report_variants.describe_variants(group(results_list), preset_defaults).values():
        for item in variant["overrides"]:
            overrides.setdefault(json.dumps(item), list(item))
    summary["preset_overrides"] = [overrides[key] for key in sorted(overrides)]
    summary["preset"] += "*" if overrides else ""
    return summary


def group(results_list) -> dict:
    """{(corpus, preset, model, aux, settings id): results list} in report order.

    The settings id (`report_variants.settings_id`) holds every result-deciding setting of the
    run's config.json except the seed and the fold, so one group, a row of the report, pools
    only seeds and folds of one experiment; runs that differ in anything else (say
    --outer_update or --train_steps) are separate rows, never one mean over both.
    """
    groups = {}
    for results in results_list:
        key = (results["corpus"], results.get("preset", "custom"), results["model"], results["aux"],
               report_variants.settings_id(results.get("settings")))
        groups.setdefault(key, []).append(results)

    def order(key):
        corpus, preset, model, aux, settings = key
        model_rank = MODEL_ORDER.index(model) if model in MODEL_ORDER else len(MODEL_ORDER)
        aux_rank = AUX_ORDER.index(aux) if aux in AUX_ORDER else -1
        return corpus, model_rank, aux_rank, preset, settings
    return {key: groups[key] for key in sorted(groups, key=order)}


def _row(summary, label, paper, variant) -> dict:
    return {"method": label + variant["suffix"], "aux": aux_label(summary["aux"]),
            "preset": variant["preset"], "overrides": variant["overrides"],
            "folds": summary["count"], "seeds": summary["seeds"], "mean": summary["mean"],
            "std": summary["std"], "sem": summary["sem"], "seconds": summary["seconds"],
            "paper": paper, "model": summary["model"], "aux_letters": summary["aux"]}


def build_tables(results_list, preset_defaults=None) -> dict:
    """Table 2 and Table 3 of every corpus present in `results_list`.

    Table 2 has CNN-LSTM, CNN-LSTM+MTL (every aux combination run) and MMTL with the most
    auxiliary tasks run on that corpus (`table2_aux`: V+A+D, the paper's Table 2 setting, when it
    was run; A alone on a corpus that labels only arousal); Table 3 has MMTL for each aux
    combination, in the paper's order. Runs are pooled into a row only when they share every
    result-deciding setting but the seed and the fold (`group`); see `report_variants` for the
    names of rows kept apart and for presets marked as modified.

    Args:
      results_list: `collect` output.
      preset_defaults: {preset: `report_variants.run_settings` of its flags} (the command's
        `preset_settings.preset_defaults`); a run whose settings differ from its preset's is
        shown with the preset as `<preset>*`. None: no preset is checked.

    Returns:
      {"table2": [table, ...], "table3": [table, ...]}, one table per corpus, each a dict with
      number, corpus, title, note, rows (method, aux, preset, overrides, folds, mean, std,
      paper) and omitted (auxiliary-task combinations of MMTL left to Table 3).
    """
    groups = group(results_list)
    variants = report_variants.describe_variants(groups, preset_defaults)
    summaries = {key: summarize(items) for key, items in groups.items()}
    tables = {"table2": [], "table3": []}
    for corpus in sorted({key[0] for key in summaries}):
        table2, table3, omitted = [], [], set()
        main_aux = table2_aux(key[3] for key in summaries if key[0] == corpus and key[2] == "mmtl")
        for key, summary in summaries.items():
            name, _, model, aux, _ = key
            if name != corpus:
                continue
            if model == "mmtl":
                table3.append(_row(summary, f"MMTL({aux_label(aux)})", TABLE3_PAPER.get(aux),
                                   variants[key]))
                if aux != main_aux:
                    omitted.add(aux)
                    continue
            table2.append(_row(summary, METHOD_NAMES.get(model, model),
                               TABLE2_PAPER.get((model, aux)), variants[key]))
        for number, rows, subject in ((2, table2, "comparison with baselines"),
                                      (3, table3, "auxiliary-task selection (MMTL)")):
            if rows:
                note = corpus_note(corpus)
                title = f"Table {number}: {subject} on {corpus}" + (f" ({note})" if note else "")
                tables[f"table{number}"].append({
                    "number": number, "corpus": corpus, "title": title, "note": note,
                    "rows": rows, "omitted": len(omitted) if number == 2 else 0})
    return tables


def table2_aux(mmtl_auxes) -> str:
    """The MMTL auxiliary-task set Table 2 shows: the most tasks, then the paper's row order
    (`vad` whenever it was run), or None without MMTL runs."""
    auxes = sorted(set(mmtl_auxes), key=lambda aux: (-len(aux), AUX_ORDER.index(aux)
                                                     if aux in AUX_ORDER else len(AUX_ORDER)))
    return auxes[0] if auxes else None


def _has_own_rows(table) -> bool:
    """Table 2's own rows are the baselines, Table 3's the MMTL rows that Table 2 does not show."""
    if table["number"] == 2:
        return any(row["model"] != "mmtl" for row in table["rows"])
    shown = table2_aux(row["aux_letters"] for row in table["rows"])
    return any(row["aux_letters"] != shown for row in table["rows"])


def select_tables(tables):
    """Keeps, per corpus, only the tables with rows of their own; says why the others are left out.

    MMTL at V+A+D is a row of both tables. A table whose rows are all in the other one is left
    out; when neither has rows of its own (MMTL V+A+D only), Table 2 is kept.

    Args:
      tables: `build_tables` output.

    Returns:
      (selected, notes): the same shape as `tables` with the kept tables, and one line per
      corpus and table left out (or never built), saying why and what to run to fill it.
    """
    selected, notes = {"table2": [], "table3": []}, []
    by_corpus = {}
    for name in ("table2", "table3"):
        for table in tables[name]:
            by_corpus.setdefault(table["corpus"], {})[name] = table
    for corpus, found in sorted(by_corpus.items()):
        table2, table3 = found.get("table2"), found.get("table3")
        own2 = table2 is not None and _has_own_rows(table2)
        own3 = table3 is not None and _has_own_rows(table3)
        if table2 is not None and (own2 or not own3):
            selected["table2"].append(table2)
        elif table2 is not None:
            notes.append(f"Table 2 on {corpus} left out: its only row, MMTL, is in Table 3; "
                         f"train the baselines (--model=cnn_lstm, --model=mtl) to compare")
        if own3:
            selected["table3"].append(table3)
        elif table3 is not None:
            notes.append(f"Table 3 on {corpus} left out: its only row, MMTL, is in Table 2; "
                         f"run `python -m mmtl_tf.sweep` for the other auxiliary-task combinations")
        else:
            notes.append(f"no MMTL results on {corpus}, so no Table 3: run `python -m mmtl_tf.sweep` "
                         f"(or main with --model=mmtl)")
    return selected, notes


def combined_confusions(results_list, preset_defaults=None) -> list:
    """Confusion matrices (adapted) summed over folds, one per row of the report (`group`).

    A (corpus, preset, model, aux) split into rows of different settings adds a tag of the
    settings to each file name, and a preset changed by the run is named `<preset>-modified`.

    Returns:
      Dicts with name (a file stem), title, confusion (list of lists), class_names and folds.

    Raises:
      ReportError: the folds of one group disagree on the class names.
    """
    combined = []
    groups = group(results_list)
    variants = report_variants.describe_variants(groups, preset_defaults)
    for key, items in groups.items():
        corpus, preset, model, aux, _ = key
        variant = variants[key]
        usable = [results for results in items if "confusion" in results]
        if not usable:
            continue
        names = {tuple(results.get("class_names", ())) for results in usable}
        if len(names) > 1:
            raise ReportError(f"{model} aux {aux} on {corpus}: folds have different classes {names}")
        total = np.sum([np.asarray(results["confusion"], np.int64) for results in usable], axis=0)
        label = (METHOD_NAMES.get(model, model) + ("" if aux == NO_AUX else f" ({aux_label(aux)})")
                 + variant["suffix"] + (f", preset {variant['preset']}" if variant["overrides"]
                                        else ""))
        note = corpus_note(corpus)
        stem = (f"confusion_{corpus}_{model}-{'noaux' if aux == NO_AUX else aux}_{preset}"
                + ("-modified" if variant["overrides"] else "") + variant["file_tag"])
        combined.append({
            "name": stem,
            "title": f"{label}, {len(usable)} fold(s) summed [{corpus}]" + (f"\n{note}" if note else ""),
            "confusion": total.tolist(), "class_names": list(names.pop()), "folds": len(usable)})
    return combined

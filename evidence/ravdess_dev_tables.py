"""README "Real speech" tables from the grid's fold results (no TensorFlow needed).

Usage (from the repository root):
    python evidence/ravdess_dev_tables.py [evidence/ravdess_dev]
prints, as Markdown, the pooled table (per model and setting: test UA and WA mean ± sample std
over every run, UA's per-seed means and their standard error over seeds, runs, summed wall
time in hours and the median per fold in minutes) and one table per seed of every fold's test
UA (WA), naming a fold whose predictions are a single class (`results_file`'s own rule).
"""

import glob
import json
import os
import sys

import numpy as np

from mmtl_tf import results_file

ROWS = (("cnn_lstm", "CNN-LSTM", (True,)), ("mtl", "CNN-LSTM+MTL (A)", (True, False)),
        ("mmtl", "MMTL (A)", (True, False)))


def _name(model, label, adapted):
    return label if model == "cnn_lstm" else f"{label}, {'adapted' if adapted else 'not adapted'}"


def _keys(adapted):
    return ("ua", "wa", "confusion") if adapted else ("ua_no_adapt", "wa_no_adapt",
                                                      "confusion_no_adapt")


def main(root):
    """Prints the tables for the runs `<root>/<model>-seed<k>/fold<n>/results.json`."""
    runs = {}
    for path in glob.glob(os.path.join(root, "*-seed?", "fold*", "results.json")):
        results = results_file.read_results(path)
        runs[(results["model"], results["seed"], results["fold"])] = results
    seeds = sorted({seed for _, seed, _ in runs})
    folds = sorted({fold for _, _, fold in runs})
    print(f"| model | UA mean ± std | WA mean ± std | UA per seed ({', '.join(map(str, seeds))}) "
          "| UA s.e. over seeds | runs | wall time, h (per fold, min) |")
    print("|---|---|---|---|---|---|---|")
    for model, label, settings in ROWS:
        rows = [results for (name, _, _), results in runs.items() if name == model]
        if not rows:
            continue
        seconds = np.array([results["seconds"] for results in rows])
        for adapted in settings:
            ua_key, wa_key, _ = _keys(adapted)
            ua = np.array([results[ua_key] for results in rows])
            wa = np.array([results[wa_key] for results in rows])
            per_seed = [np.mean([results[ua_key] for (name, seed, _), results in runs.items()
                                 if name == model and seed == wanted]) for wanted in seeds]
            error = np.std(per_seed, ddof=1) / np.sqrt(len(per_seed)) if len(seeds) > 1 else 0.0
            print(f"| {_name(model, label, adapted)} | {ua.mean():.3f} ± {ua.std(ddof=1):.3f} | "
                  f"{wa.mean():.3f} ± {wa.std(ddof=1):.3f} | "
                  + " / ".join(f"{value:.3f}" for value in per_seed)
                  + f" | {error:.3f} | {len(rows)} | {seconds.sum() / 3600:.2f} "
                  f"({np.median(seconds) / 60:.1f}) |")
    for seed in seeds:
        print(f"\n| model (seed {seed}) | " + " | ".join(f"fold {fold}" for fold in folds) + " |")
        print("|---|" + "---|" * len(folds))
        for model, label, settings in ROWS:
            for adapted in settings:
                ua_key, wa_key, confusion_key = _keys(adapted)
                cells = []
                for fold in folds:
                    results = runs.get((model, seed, fold))
                    if results is None:
                        cells.append("not run")
                        continue
                    cell = f"{results[ua_key]:.3f} ({results[wa_key]:.3f})"
                    single = results_file.single_predicted_class(results[confusion_key],
                                                                 results["class_names"])
                    cells.append(f"**{cell}, one class: {single}**" if single else cell)
                print(f"| {_name(model, label, adapted)} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.join("evidence", "ravdess_dev"))

"""Mean and standard deviation of one configuration's folds and seeds (no TensorFlow).

`summarize` is the statistics of one row of a report (`reporting`) and of a `--fold=all` run's
summary (`experiments`): every run given must be of one configuration, so it refuses runs of
other corpora, presets, models, auxiliary tasks or recorded settings (`report_variants`).
"""

import numpy as np

from mmtl_tf import folds, results_file
from mmtl_tf.corpus_notes import corpus_note
from mmtl_tf.report_variants import settings_id
from mmtl_tf.results_file import METRICS, ReportError


def mean_and_std(values):
    """(mean, sample standard deviation with ddof=1, or None for a single value)."""
    values = np.asarray(values, np.float64)
    std = float(np.std(values, ddof=1)) if len(values) > 1 else None
    return float(np.mean(values)), std


def summarize(results_list) -> dict:
    """Per-fold rows and mean/std over the folds (and seeds) of one configuration.

    With several seeds (the same folds trained with other `--seed`s), `mean` and `std` are over
    every (fold, seed) run, and the seeds' fold-means give `seed_std` (their sample std) and
    `sem` (the standard error over seeds, seed_std / sqrt(seeds)).

    Args:
      results_list: results dicts (results.json) of one corpus, preset, model and aux, one per
        fold and seed, all with the same recorded `settings` (`reporting.collect`; none given
        is the same).

    Returns:
      {"corpus", "preset", "model", "aux", "count", "seeds", "folds": [rows sorted by seed and
       fold], "mean": {metric: fraction}, "std": {metric: fraction or None}, "std_ddof": 1,
       "seed_std", "sem": {metric: fraction or None}, "seconds": summed wall time}, metrics being
      ua, wa, ua_no_adapt, wa_no_adapt; a corpus other than IEMOCAP adds its "note".

    Raises:
      ReportError: no results, a mixed configuration, or one (seed, fold) twice.
    """
    if not results_list:
        raise ReportError("no results to summarize")
    first = results_list[0]
    for key in ("corpus", "preset", "model", "aux"):
        values = sorted({str(results.get(key)) for results in results_list})
        if len(values) > 1:
            raise ReportError(f"cannot summarize results of different {key}s together: {values}")
    if len({settings_id(results.get("settings")) for results in results_list}) > 1:
        raise ReportError("cannot summarize runs with different settings together (their "
                          "config.json differ in more than the seed and the fold): group them "
                          "with `reporting.group`, which keeps them in separate rows")
    rows, seen = [], {}
    for results in sorted(results_list, key=lambda item: (item.get("seed", 0), item["fold"])):
        where = results.get("results_path") or results.get("run_dir", "?")
        key = (results.get("seed", 0), results["fold"])
        if key in seen:
            raise ReportError(f"fold {results['fold']} (seed {key[0]}) of {first['model']} aux "
                              f"{first['aux']} appears twice ({seen[key]} and {where}); report one")
        seen[key] = where
        rows.append({"fold": results["fold"], "seed": key[0], "val_speaker": results.get("val_speaker"),
                     "test_speaker": (", ".join(folds.recorded_test_speakers(results))
                                      if "test_speaker" in results else None),
                     "best_epoch": results.get("best_epoch"), "run_dir": results.get("run_dir"),
                     "collapsed": results_file.collapsed_predictions(results),
                     "seconds": float(results.get("seconds", 0.0)),
                     **{metric: float(results[metric]) for metric in METRICS}})
    statistics = {metric: mean_and_std([row[metric] for row in rows]) for metric in METRICS}
    seeds = sorted({row["seed"] for row in rows})
    seed_std = {metric: mean_and_std([np.mean([row[metric] for row in rows if row["seed"] == seed])
                                      for seed in seeds])[1] for metric in METRICS}
    summary = {"corpus": first["corpus"], "preset": first.get("preset", "custom"),
               "model": first["model"], "aux": first["aux"], "count": len(rows),
               "seeds": len(seeds), "folds": rows,
               "mean": {metric: value[0] for metric, value in statistics.items()},
               "std": {metric: value[1] for metric, value in statistics.items()}, "std_ddof": 1,
               "seed_std": seed_std,
               "sem": {metric: None if value is None else value / np.sqrt(len(seeds))
                       for metric, value in seed_std.items()},
               "seconds": float(sum(row["seconds"] for row in rows))}
    if corpus_note(first["corpus"]):
        summary["note"] = corpus_note(first["corpus"])
    return summary

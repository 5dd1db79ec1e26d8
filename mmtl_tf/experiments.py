"""Cross-validation over every fold and the auxiliary-task sweep of Table 3, resumably.

`run_folds` trains one configuration on several folds (paper section 3.1.2: fold k holds out
session k), each in its own run directory, then writes a summary:

    <run_dir>/fold<k>/           one `training.train_and_evaluate` run (results.json, checkpoints,
                                 tensorboard/, confusion_matrix.png, export/)
    <run_dir>/summary.json       per-fold rows, mean and sample std of UA and WA (adapted and not),
                                 and the corpus' session count (a --fold list covers some)
    <run_dir>/summary.md         the same as a Markdown table, corpus named in the title

`run_sweep` runs `run_folds` once per auxiliary-task combination (Table 3's rows) into
`<sweep_dir>/aux-<letters>/` and writes `<sweep_dir>/summary.{json,md}` (Tables 2/3 layout).

Resuming: a fold whose results.json exists and whose config.json records the same settings is
not recomputed (`rerun=True` clears its outputs and trains it again); an interrupted fold resumes
from its checkpoints inside `training.train_and_evaluate`. Every fold writes TensorBoard
summaries and HParams into its own `tensorboard/`, so `tensorboard --logdir=<run_dir or
sweep_dir>` shows all folds and combinations together, one HParams session each.
"""

import dataclasses
import os
import shutil

from mmtl_tf import (atomic_files, corpora, distribution, export_format, folds, labels,
                     report_rendering, reporting, results_file, tfrecords)
from mmtl_tf import run_dir as run_dir_lib, training
from mmtl_tf.corpus_notes import corpus_label

SWEEP_AUX = reporting.AUX_ORDER  # v, a, d, vd, ad, va, vad: Table 3's row order
RUN_OUTPUTS = ("results.json", "config.json", "confusion_matrix.png", "checkpoints", "tensorboard",
               "export")


def session_count(manifest: dict) -> int:
    """Number of sessions (folds) in a prepared corpus' manifest."""
    return len(corpora.sessions_of({speaker: info["session"]
                                    for speaker, info in manifest["speakers"].items()}))


def resolve_folds(fold: str, manifest: dict) -> list:
    """Turns a --fold value ("1".."N", a list such as "1,2,4", or "all") into the sorted list of
    folds to run.

    Raises:
      ValueError: naming --fold, when it is none of those forms, or when it asks for several
        folds and a session among them has a single speaker (`folds.single_speaker_folds`): the
        message lists every such fold up front and the --fold list of the folds that can run.
    """
    count = session_count(manifest)
    text = str(fold).strip().lower()
    if text == "all":
        chosen = list(range(1, count + 1))
    else:
        items = [item.strip() for item in text.split(",")]
        if not all(item.isdigit() and 1 <= int(item) <= count for item in items):
            raise ValueError(f"--fold={fold}: {manifest['corpus']} has {count} sessions, so "
                             f"--fold is one of 1..{count}, a list of them (1,3) or all")
        chosen = sorted({int(item) for item in items})
    blocked = {number: held for number, held in folds.single_speaker_folds(manifest).items()
               if number in chosen}
    if len(chosen) > 1 and blocked:
        raise ValueError(folds.blocked_folds_message(fold, chosen, blocked, count))
    return chosen


def fold_experiment(experiment, fold: int):
    """The experiment of one fold, in `<run_dir>/fold<fold>`."""
    return dataclasses.replace(experiment, fold=fold,
                               run_dir=os.path.join(experiment.run_dir, f"fold{fold}"))


def is_finished(experiment) -> bool:
    """True when run_dir holds results.json and a config.json with the same settings."""
    results_path = os.path.join(experiment.run_dir, "results.json")
    config_path = os.path.join(experiment.run_dir, "config.json")
    if not (os.path.isfile(results_path) and os.path.isfile(config_path)):
        return False
    stored = atomic_files.read_json(config_path).get("experiment", {})
    wanted = experiment.to_dict()
    # as a resumed run compares them: settings that do not change results may differ
    return (run_dir_lib.flatten_record({key: stored.get(key) for key in run_dir_lib.RESULT_SETTINGS})
            == run_dir_lib.flatten_record({key: wanted.get(key) for key in run_dir_lib.RESULT_SETTINGS}))


def clear_run(run_dir: str) -> None:
    """Removes a run's outputs (results, checkpoints, summaries, export) so it trains anew.

    Raises:
      run_dir_lib.RunDirError: another live process holds the run directory.
    """
    if not os.path.isdir(run_dir):
        return
    with run_dir_lib.RunLock(run_dir):
        for name in RUN_OUTPUTS:
            path = os.path.join(run_dir, name)
            if os.path.isdir(path):
                shutil.rmtree(path)
            elif os.path.exists(path):
                os.remove(path)


def describe(results: dict) -> str:
    """The one-line result of a run, corpus first (the synthetic caveat included), and a warning
    line when the test predictions collapsed to one class."""
    line = (f"[{corpus_label(results['corpus'])}] {results['model']} fold "
            f"{results['fold']} aux={results['aux']} test "
            f"{', '.join(folds.recorded_test_speakers(results))}: UA "
            f"{results['ua']:.4f} WA {results['wa']:.4f} | no adaptation: UA "
            f"{results['ua_no_adapt']:.4f} WA {results['wa_no_adapt']:.4f} | best epoch "
            f"{results['best_epoch']} | {results['seconds']:.0f} s -> {results['run_dir']}/results.json")
    collapsed = results_file.collapsed_predictions(results)
    if collapsed:
        line += (f"\nwarning: the model predicts a single class ({'; '.join(collapsed)}): its "
                 f"UA is a constant predictor's; see the confusion matrix")
    return line


def describe_outputs(run_dir: str, export_dir: str = None) -> str:
    """The line naming every artefact a finished fold wrote (the export only when there is one)."""
    outputs = [f"results {os.path.join(run_dir, 'results.json')}",
               f"confusion matrix {os.path.join(run_dir, 'confusion_matrix.png')}",
               f"TensorBoard `tensorboard --logdir={os.path.join(run_dir, 'tensorboard')}`"]
    if export_dir:
        outputs.append(f"SavedModel {export_dir}")
    return "wrote: " + ", ".join(outputs)


def run_fold(experiment, rerun: bool = False, log=print) -> dict:
    """Trains and evaluates one fold unless it is finished with the same settings.

    Args:
      experiment: the fold's ExperimentConfig (its own run_dir).
      rerun: clear a finished or interrupted run and train it from scratch.
      log: where progress lines go.

    Returns:
      The fold's results dict (read back when the fold was already finished).
    """
    chief = distribution.is_chief(experiment.strategy)
    if rerun:
        if chief:  # the chief's run directory is the run; a worker starts afresh beside it
            clear_run(experiment.run_dir)
    elif is_finished(experiment):
        log(f"fold {experiment.fold}: finished with the same settings, skipped "
            f"({experiment.run_dir}/results.json; --rerun recomputes it)")
        results = atomic_files.read_json(os.path.join(experiment.run_dir, "results.json"))
        if experiment.export and not has_export(experiment.run_dir):
            # killed while exporting, or trained with --noexport: the export is still owed
            results["export_dir"] = _export(experiment.run_dir)
            log(f"fold {experiment.fold}: had no SavedModel; exported its selected checkpoint "
                f"to {results['export_dir']}")
        return results
    results = training.train_and_evaluate(experiment, restore=not rerun)
    if not chief:
        log(f"fold {experiment.fold}: this worker's part is done; the chief (worker 0) writes "
            f"the run to {experiment.run_dir}")
        return results
    if experiment.export:
        results["export_dir"] = _export(experiment.run_dir)
    log(describe(results))
    log(describe_outputs(experiment.run_dir, results.get("export_dir")))
    return results


def has_export(run_dir: str) -> bool:
    """Whether run_dir/export holds a finished SavedModel (an interrupted export leaves only its
    hidden staging folder)."""
    return bool(export_format.existing_versions(os.path.join(run_dir, "export"),
                                                complete_only=True))


def _export(run_dir: str) -> str:
    """Exports the run's selected checkpoint (`export.export_run`); returns the SavedModel dir."""
    from mmtl_tf import export as export_lib  # pylint: disable=import-outside-toplevel
    return export_lib.export_run(run_dir)


def write_summary(directory: str, summary: dict, markdown: str) -> None:
    """Writes directory/summary.json and directory/summary.md atomically."""
    atomic_files.write_json(os.path.join(directory, "summary.json"), summary)
    atomic_files.write_text(os.path.join(directory, "summary.md"), markdown)


def summarize(results_list) -> dict:
    """Mean and sample std (ddof=1) over folds of UA/WA with and without adaptation.

    See `reporting.summarize`, which this is (kept pure there so reports need no TensorFlow).
    """
    return reporting.summarize(results_list)


def check_folds(experiment, folds) -> None:
    """Validates every fold's speakers and auxiliary labels before any training work.

    Raises:
      ValueError: naming --fold, --val_speaker or --aux (from `training.check_data`).
    """
    for fold in folds:
        training.check_data(fold_experiment(experiment, fold))


def run_folds(experiment, folds, rerun: bool = False, log=print, preset_defaults=None) -> dict:
    """Runs `folds` of one configuration into `<run_dir>/fold<k>/` and summarizes them.

    Args:
      experiment: the configuration; its run_dir is the parent of the fold directories and its
        fold is ignored.
      folds: 1-based folds, e.g. `resolve_folds("all", manifest)`.
      rerun: recompute finished folds too.
      log: where progress lines go.
      preset_defaults: {preset: its settings} as `report` takes them (the command's
        `preset_settings.preset_defaults`): a run that changed its preset's settings is
        starred and footnoted in the summary as in a report. None: not checked.

    Returns:
      The `reporting.marked_summary` dict, also written to run_dir/summary.json (and .md);
      a non-chief worker of --strategy=multi_worker writes nothing and returns only the folds.
    """
    check_folds(experiment, folds)
    os.makedirs(experiment.run_dir, exist_ok=True)
    for index, fold in enumerate(folds, start=1):
        log(f"== fold {fold} ({index}/{len(folds)}) -> "
            f"{os.path.join(experiment.run_dir, f'fold{fold}')}")
        run_fold(fold_experiment(experiment, fold), rerun, log)
    if not distribution.is_chief(experiment.strategy):
        return {"folds": list(folds), "written_by": "the chief"}  # which summarizes them
    summary = reporting.marked_summary(_fold_results(experiment, folds), preset_defaults)
    # a --fold list (or a corpus some of whose sessions cannot be held out) covers only some
    summary["sessions"] = session_count(tfrecords.load_manifest(experiment.tfrecord_dir))
    write_summary(experiment.run_dir, summary, report_rendering.render_fold_summary(summary))
    mean, std = summary["mean"], summary["std"]
    log(f"[{corpus_label(summary['corpus'])}] {summary['model']} aux={summary['aux']} "
        f"over {summary['count']} fold(s): UA {report_rendering.format_percent(mean['ua'], std['ua'])} "
        f"WA {report_rendering.format_percent(mean['wa'], std['wa'])} % -> "
        f"{experiment.run_dir}/summary.md")
    return summary


def aux_experiment(experiment, letters: str):
    """The experiment of one sweep combination, in `<run_dir>/aux-<letters>`."""
    train = dataclasses.replace(experiment.train,
                                aux_tasks=labels.aux_tasks_from_letters(letters))
    return dataclasses.replace(experiment, train=train,
                               run_dir=os.path.join(experiment.run_dir, f"aux-{letters}"))


def _fold_results(experiment, folds) -> list:
    """The folds' results.json as `report` reads them (`reporting.read_run`: with settings)."""
    return [reporting.read_run(os.path.join(experiment.run_dir, f"fold{fold}",
                                            results_file.RESULTS_NAME)) for fold in folds]


def run_sweep(experiment, folds, combinations=SWEEP_AUX, rerun: bool = False, log=print,
              preset_defaults=None) -> dict:
    """Runs `run_folds` for each auxiliary-task combination (Table 3) and summarizes them.

    Args:
      experiment: the configuration (model mmtl or mtl); run_dir is the sweep directory.
      folds: 1-based folds for every combination.
      combinations: aux letter strings, run in this order (default: Table 3's rows).
      rerun: recompute finished folds too.
      log: where progress lines go.
      preset_defaults: as `run_folds` takes them; the sweep's tables star a changed preset.

    Returns:
      {"corpus", "model", "folds", "combinations": {letters: fold summary}}, also written to
      run_dir/summary.json; run_dir/summary.md holds the Table 2/3-shaped report.

    Raises:
      ValueError: a model without auxiliary tasks, or a combination the data cannot serve.
    """
    if experiment.train.model == "cnn_lstm":
        raise ValueError("--model=cnn_lstm has no auxiliary tasks to sweep; use mmtl or mtl")
    for letters in combinations:  # every combination's data checked before any training
        check_folds(aux_experiment(experiment, letters), folds)
    summaries = {}
    for letters in combinations:
        log(f"=== aux {letters} ({reporting.aux_label(letters)})")
        summaries[letters] = run_folds(aux_experiment(experiment, letters), folds, rerun, log,
                                       preset_defaults)
    if not distribution.is_chief(experiment.strategy):
        return {"folds": list(folds), "written_by": "the chief"}
    first = next(iter(summaries.values()))
    sweep = {"corpus": first["corpus"], "model": experiment.train.model, "folds": list(folds),
             "combinations": summaries}
    tables, _ = reporting.select_tables(reporting.build_tables(
        [item for letters in combinations
         for item in _fold_results(aux_experiment(experiment, letters), folds)], preset_defaults))
    heading = f"Sweep of auxiliary tasks: {experiment.train.model} on {first['corpus']}"
    markdown = report_rendering.render_markdown(tables["table2"] + tables["table3"], heading)
    write_summary(experiment.run_dir, sweep, markdown)
    log(f"sweep summary -> {experiment.run_dir}/summary.md")
    return sweep

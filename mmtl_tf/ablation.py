"""Meta-test adaptation ablation: `python -m mmtl_tf.ablation RUN_DIR... [--steps=0,1,5,10]`.

Paper section 2.4 fine-tunes the meta learner on the target speaker's auxiliary tasks before
predicting, without saying with which optimizer or for how long. This command measures it: every
finished fold run found under the given directories (each `results.json`) is restored at its
selected checkpoint and scored on its **validation** speaker under each adaptation setting
(number of steps x optimizer: plain gradient steps at alpha, Eq. 4's inner step, or Adam at
gamma; a run trained with `--test_adapt_learning_rate` is adapted at that rate instead). The
table (mean and std of UA over runs, per model) is what chose the default; only validation
speakers enter it. `--with_test` adds the test speakers' scores in separate columns,
for the record, never for choosing.

Writes `<output>.json` and `<output>.md` (default `ablation` in the current directory).
"""

import dataclasses
import os

from absl import app
from absl import flags

from mmtl_tf import atomic_files, cli_app, cli_flags, results_file

COMMAND = cli_flags.define_command(cli_flags.ABLATION)
FLAGS = flags.FLAGS


NO_CHECKPOINTS = ("results.json but no checkpoints/ (deleted, or copied without them): its "
                  "selected checkpoint cannot be rescored")


def finished_runs(directories) -> tuple:
    """Fold run directories under `directories`, sorted: (runs holding results.json and
    checkpoints/, [(run directory, reason)] for runs with results.json that cannot be ablated)."""
    found, skipped = set(), set()
    for directory in directories:
        if not os.path.isdir(directory):
            raise FileNotFoundError(f"{directory}: no such run directory")
        for root, folders, files in os.walk(directory):
            results_file.skip_scratch(files, folders)
            if "results.json" in files:
                (found if "checkpoints" in folders else skipped).add(root)
    return sorted(found), [(root, NO_CHECKPOINTS) for root in sorted(skipped)]


def corpus_of_runs(runs) -> str:
    """The one corpus of `runs` (from each results.json).

    Raises:
      ValueError: runs of several corpora, naming one run of each: an ablation row pools runs
        of one model, and a synthetic run must never be pooled with (or titled as) IEMOCAP.
    """
    corpora = {}
    for run_dir in runs:
        corpus = results_file.read_results(os.path.join(run_dir, "results.json"))["corpus"]
        corpora.setdefault(corpus, run_dir)
    if len(corpora) > 1:
        named = ", ".join(f"{corpus} ({run_dir})" for corpus, run_dir in sorted(corpora.items()))
        raise ValueError(f"runs of several corpora: {named}; ablate one corpus at a time (give "
                         f"only its run directories)")
    return next(iter(corpora))


def settings_grid(steps, optimizers) -> list:
    """[(optimizer, steps)] in table order; 0 steps appears once (as "none")."""
    grid = [("none", 0)] if 0 in steps else []
    grid += [(optimizer, count) for optimizer in optimizers for count in steps if count]
    return grid


def ablate_run(run_dir: str, grid, with_test: bool) -> dict:
    """Scores one finished run's selected checkpoint under every adaptation setting.

    Returns:
      {"run_dir", "model", "seed", "fold", "scores": {"<optimizer>x<steps>": {"validation": UA,
      "test": UA or None}}}.
    """
    from mmtl_tf import (episodes, evaluation, folds, run_dir as run_dir_lib, tfrecords,
                         trained_model)
    algorithm, record = trained_model.load_trained(run_dir)
    experiment = run_dir_lib.experiment_from_record(record)
    train = experiment.train
    manifest = tfrecords.load_manifest(experiment.tfrecord_dir, experiment.features)
    class_names = list(record["class_names"])
    speakers = {"validation": [record["val_speaker"]]}
    if with_test:
        speakers["test"] = folds.recorded_test_speakers(record)
    data = {role: [(episodes.speaker_segments(experiment.tfrecord_dir, manifest, speaker,
                                              experiment.features),
                    episodes.class_weights(manifest, [speaker], len(class_names))[0])
                   for speaker in names]
            for role, names in speakers.items()}
    scores, evaluators = {}, {}  # one evaluator (one set of traced functions) per optimizer
    for optimizer, steps in grid:
        used = optimizer if steps else "sgd"  # "none": no step is taken, any evaluator scores it
        if used not in evaluators:
            rate = dataclasses.replace(train, test_adapt_optimizer=used).adapt_learning_rate
            evaluators[used] = evaluation.SpeakerEvaluator(
                algorithm, rate, steps, train.segments_per_speaker, train.seed, used)
        evaluator = evaluators[used].with_adapt_steps(steps)
        row = {}
        for role, held_out in data.items():
            row[role] = evaluator.evaluate_speakers(held_out, class_names)["adapted"]["ua"]
        scores[f"{optimizer} x{steps}" if steps else "none"] = row
    return {"run_dir": run_dir, "model": train.model, "seed": train.seed,
            "fold": experiment.fold, "scores": scores}


def summarize(rows) -> dict:
    """{model: {setting: {"validation": (mean, std, n), "test": (...)}}} over runs."""
    import numpy as np
    table = {}
    for row in rows:
        for setting, roles in row["scores"].items():
            for role, value in roles.items():
                table.setdefault(row["model"], {}).setdefault(setting, {}).setdefault(role, []).append(value)
    return {model: {setting: {role: (float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0,
                                     len(v)) for role, v in roles.items()}
                    for setting, roles in settings.items()}
            for model, settings in table.items()}


def render_markdown(summary, corpus: str, with_test: bool, skipped=()) -> str:
    """The ablation table (one row per model and setting), the corpus' caveat in its title,
    then the runs left out and why."""
    from mmtl_tf import corpus_notes  # pylint: disable=import-outside-toplevel
    header = "| model | adaptation | validation UA (mean ± std, n) |"
    rule = "|---|---|---|"
    if with_test:
        header += " test UA (not used to choose) |"
        rule += "---|"
    lines = [f"Meta-test adaptation ablation [{corpus_notes.corpus_label(corpus)}]", "", header,
             rule]
    for model, settings in summary.items():
        for setting, roles in settings.items():
            mean, std, count = roles["validation"]
            line = f"| {model} | {setting} | {mean:.4f} ± {std:.4f} ({count}) |"
            if with_test:
                mean, std, count = roles["test"]
                line += f" {mean:.4f} ± {std:.4f} ({count}) |"
            lines.append(line)
    if skipped:
        lines += [""] + [f"Not in the table: {run_dir}: {reason}." for run_dir, reason in skipped]
    return "\n".join(lines) + "\n"


def run(directories, flag_values=FLAGS) -> dict:
    """Flags -> ablation over the runs under `directories` -> output files."""
    runs, skipped = finished_runs(directories)
    for run_dir, reason in skipped:
        print(f"skipped {run_dir}: {reason}")
    if not runs:
        raise FileNotFoundError("no finished run (results.json with checkpoints/) under "
                                f"{', '.join(directories)}")
    corpus = corpus_of_runs(runs)  # before any run is loaded
    steps = sorted({int(value) for value in flag_values.steps})
    grid = settings_grid(steps, flag_values.optimizers)
    rows = []
    for index, run_dir in enumerate(runs, start=1):
        rows.append(ablate_run(run_dir, grid, flag_values.with_test))
        print(f"[{index}/{len(runs)}] {run_dir}: " + ", ".join(
            f"{name} {roles['validation']:.3f}" for name, roles in rows[-1]["scores"].items()), flush=True)
    summary = summarize([row for row in rows if row["model"] != "cnn_lstm"])
    markdown = render_markdown(summary, corpus, flag_values.with_test, skipped)
    atomic_files.write_json(f"{flag_values.output}.json", {"corpus": corpus, "runs": rows,
                                                      "summary": summary, "skipped": skipped})
    atomic_files.write_text(f"{flag_values.output}.md", markdown)
    print(markdown + f"wrote {flag_values.output}.json and {flag_values.output}.md")
    return summary


def main(argv):
    if len(argv) < 2:
        raise app.UsageError("give one or more run directories (e.g. runs/ravdess-mmtl)")
    run(argv[1:])  # errors: cli_app.guard


if __name__ == "__main__":
    cli_app.run(main, COMMAND, __doc__)

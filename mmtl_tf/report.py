"""Paper-shaped result tables: `python -m mmtl_tf.report RUN_DIR... [--output_dir=DIR]`.

Collects every results.json under the given directories (runs, `--fold=all` runs, sweeps), and
writes into --output_dir (default: a new `reports/<date>-<time>/` in the current directory, so
run directories are never written to):
  table2.md, table2.csv   Table 2 layout: CNN-LSTM, CNN-LSTM+MTL, MMTL (V+A+D) x UA/WA
  table3.md, table3.csv   Table 3 layout: MMTL per auxiliary-task combination x UA/WA
  confusion_<corpus>_<model>-<aux>_<preset>.png   confusion matrix summed over folds (a
      preset the run changed is `<preset>-modified`; rows kept apart add `_<tag>`)
Each table gives mean ± sample std over folds and the fold count, adapted and without
adaptation, one table per corpus, with the paper's IEMOCAP numbers in columns marked as the
paper's. A row pools only runs with the same settings but for the seed and the fold: runs that
differ in any other setting their config.json records are separate rows named by the settings
that differ, and a run that changed its preset's settings shows the preset as `paper*`, with a
footnote listing the changes (`report_variants`, `preset_settings`).
A table is written only where it has rows of its own (`reporting.select_tables`);
the output says which tables were left out and which runs were skipped (unfinished), and why.
The Markdown is also printed. Errors end with "error: ..." and exit status 1.
"""

import os
import time

from absl import app
from absl import flags

from mmtl_tf import (atomic_files, cli_app, cli_flags, confusion_plot, preset_settings,
                     report_rendering, reporting)

COMMAND = cli_flags.define_command(cli_flags.REPORT)
FLAGS = flags.FLAGS
REPORTS_ROOT = "reports"


def default_output_dir(root: str = REPORTS_ROOT, now: float = None) -> str:
    """A report folder that does not exist yet: `root/<YYYYmmdd-HHMMSS>` (with `-2`... if taken)."""
    stem = os.path.join(root, time.strftime("%Y%m%d-%H%M%S", time.localtime(now)))
    candidate, number = stem, 1
    while os.path.exists(candidate):
        number += 1
        candidate = f"{stem}-{number}"
    return candidate


def write_report(directories, output_dir: str) -> dict:
    """Collects results under `directories` and writes the tables and confusion PNGs.

    Returns:
      {"markdown": {"table2": text, "table3": text} for the tables written, "files": [written
      paths], "skipped": [(run directory, reason)], "notes": [tables left out, and why]}.

    Raises:
      reporting.ReportError: no results, or results that cannot be tabulated (naming the file).
    """
    paths, skipped = reporting.scan(directories)
    if not paths:
        reason = f"; skipped {len(skipped)} unfinished run(s)" if skipped else ""
        raise reporting.ReportError(f"no results.json under {', '.join(directories)}{reason}: "
                                    f"give the --run_dir of finished runs")
    results = reporting.collect(directories)
    defaults = preset_settings.preset_defaults(item["preset"] for item in results)
    tables, notes = reporting.select_tables(reporting.build_tables(results, defaults))
    os.makedirs(output_dir, exist_ok=True)
    written = {"markdown": {}, "files": [], "skipped": skipped, "notes": notes}
    for name in ("table2", "table3"):
        if not tables[name]:
            continue
        written["markdown"][name] = report_rendering.render_markdown(tables[name])
        for extension, text in (("md", written["markdown"][name]),
                                ("csv", report_rendering.render_csv(tables[name]))):
            path = os.path.join(output_dir, f"{name}.{extension}")
            atomic_files.write_text(path, text)
            written["files"].append(path)
    for confusion in reporting.combined_confusions(results, defaults):
        path = os.path.join(output_dir, f"{confusion['name']}.png")
        atomic_files.write_bytes(path, confusion_plot.confusion_matrix_png(
            confusion["confusion"], confusion["class_names"], confusion["title"]))
        written["files"].append(path)
    return written


def describe_report(written: dict) -> str:
    """What `report` prints: the tables, then the tables left out, the skipped runs, the files."""
    lines = [written["markdown"][name] for name in ("table2", "table3")
             if name in written["markdown"]]
    lines += [f"note: {note}" for note in written["notes"]]
    lines += [f"skipped {run_dir}: {reason}" for run_dir, reason in written["skipped"]]
    lines.append("wrote " + ", ".join(written["files"]))
    return "\n".join(lines)


def run(directories, flag_values=FLAGS) -> dict:
    """Writes the report of the runs under `directories` and prints what it wrote.

    Returns:
      `write_report`'s record.
    """
    if not directories:
        raise app.UsageError("give at least one RUN_DIR: python -m mmtl_tf.report RUN_DIR...")
    # Errors become one `error:` line in cli_app.guard.
    written = write_report(directories, flag_values.output_dir or default_output_dir())
    print(describe_report(written))
    return written


def main(argv):
    """Runs `run` on the directories named on the command line."""
    run(argv[1:])


if __name__ == "__main__":
    cli_app.run(main, COMMAND, __doc__)

"""Paper-shaped result tables: `python -m mmtl_tf.report RUN_DIR... [--output_dir=DIR]`.

Collects every results.json under the given directories (runs, `--fold=all` runs, sweeps), and
writes into --output_dir (default: the first RUN_DIR):
  table2.md, table2.csv   Table 2 layout: CNN-LSTM, CNN-LSTM+MTL, MMTL (V+A+D) x UA/WA
  table3.md, table3.csv   Table 3 layout: MMTL per auxiliary-task combination x UA/WA
  confusion_<corpus>_<model>-<aux>_<preset>.png   confusion matrix summed over folds
Each table gives mean ± sample std over folds and the fold count, adapted and without
adaptation, one table per corpus, with the paper's IEMOCAP numbers in columns marked as the
paper's. The Markdown is also printed. Errors end with "error: ..." and exit status 1.
"""

import os

from absl import app
from absl import flags

from mmtl_tf import cli_flags, reporting, run_dir as run_dir_lib

flags.DEFINE_string("output_dir", None, "Where the tables and PNGs go; default: the first RUN_DIR.")
FLAGS = flags.FLAGS
NO_TABLE3 = ("No MMTL results, so no Table 3: run `python -m mmtl_tf.sweep --model=mmtl` "
             "(or main with --model=mmtl) first.")


def write_text(path: str, text: str) -> None:
    """Writes a text file atomically."""
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(temporary, path)


def write_report(directories, output_dir: str) -> dict:
    """Collects results under `directories` and writes the tables and confusion PNGs.

    Returns:
      {"table2": markdown, "table3": markdown, "files": [written paths]}.

    Raises:
      reporting.ReportError: no results, or results that cannot be tabulated.
    """
    results = reporting.collect(directories)
    if not results:
        raise reporting.ReportError(f"no results.json under {', '.join(directories)}")
    tables = reporting.build_tables(results)
    os.makedirs(output_dir, exist_ok=True)
    written = {"table2": reporting.render_markdown(tables["table2"]),
               "table3": reporting.render_markdown(tables["table3"], empty=NO_TABLE3), "files": []}
    for name in ("table2", "table3"):
        for extension, text in (("md", written[name]), ("csv", reporting.render_csv(tables[name]))):
            path = os.path.join(output_dir, f"{name}.{extension}")
            write_text(path, text)
            written["files"].append(path)
    from mmtl_tf import evaluation  # pylint: disable=import-outside-toplevel (TensorFlow)
    for confusion in reporting.combined_confusions(results):
        path = os.path.join(output_dir, f"{confusion['name']}.png")
        png = evaluation.confusion_matrix_png(confusion["confusion"], confusion["class_names"],
                                              confusion["title"])
        with open(path, "wb") as handle:
            handle.write(png)
        written["files"].append(path)
    return written


def main(argv):
    directories = argv[1:]
    if not directories:
        raise app.UsageError("give at least one RUN_DIR: python -m mmtl_tf.report RUN_DIR...")
    written = cli_flags.run_reporting_errors(
        lambda: write_report(directories, FLAGS.output_dir or directories[0]),
        (reporting.ReportError, run_dir_lib.RunDirError, OSError))
    print(written["table2"])
    print(written["table3"])
    print("wrote " + ", ".join(written["files"]))


if __name__ == "__main__":
    app.run(main)

"""Markdown and CSV of the result tables `reporting` builds (no TensorFlow).

- `render_markdown`: one section per table (Table 2: method and aux; Table 3: MMTL per aux),
  mean ± sample std over folds in %, the fold count, and the paper's IEMOCAP numbers in columns
  marked as the paper's; a row whose run changed its preset's settings shows the preset as
  `paper*`, and a footnote under the table lists the settings changed.
- `render_csv`: one line per row, values in %, std empty for a single fold; a changed preset's
  cell spells out its changes (`paper* (train_steps=1 (paper: 0))`).
- `render_fold_summary`: the folds of one configuration, a row each, then mean ± std; a
  changed preset is starred and footnoted as in the tables (`reporting.marked_summary`).
"""

import csv
import io
import math

from mmtl_tf.corpus_notes import corpus_note
from mmtl_tf.report_variants import describe_overrides
from mmtl_tf.reporting import METHOD_NAMES, METRICS, NO_AUX, aux_label

METRIC_HEADERS = ("UA (%)", "WA (%)", "UA no adapt. (%)", "WA no adapt. (%)")
PAPER_HEADERS = ("paper (IEMOCAP) UA (%)", "paper (IEMOCAP) WA (%)")
_CSV_COLUMNS = ("corpus", "method", "aux", "preset", "folds",
                *(f"{metric}_{part}" for metric in METRICS for part in ("mean", "std")),
                "paper_iemocap_ua", "paper_iemocap_wa", "note")


def format_percent(mean, std) -> str:
    """`71.00 ± 1.41` (fractions in, percent out); the mean alone when std is None."""
    if std is None or (isinstance(std, float) and math.isnan(std)):
        return f"{100 * mean:.2f}"
    return f"{100 * mean:.2f} ± {100 * std:.2f}"


def _markdown_table(headers, rows) -> list:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def render_markdown(tables, heading: str = "", empty: str = "No results for this table.") -> str:
    """Markdown of a list of tables from `build_tables` (one section per table).

    Args:
      tables: tables of `build_tables`.
      heading: an optional level-1 heading.
      empty: the text when `tables` is empty.
    """
    lines = [f"# {heading}", ""] if heading else []
    if not tables:
        lines.append(empty)
    for table in tables:
        lines += [f"## {table['title']}", "",
                  "Ours: mean ± sample standard deviation over folds (UA/WA in %); \"no adapt.\" "
                  "skips meta-test fine-tuning. The paper (IEMOCAP) columns are the paper's "
                  "published numbers, not ours.", ""]
        first_columns = ("Method", "Aux") if table["number"] == 2 else ("Model",)
        seeded = any(row.get("seeds", 1) > 1 for row in table["rows"])
        cells = []
        for row in table["rows"]:
            start = (row["method"], row["aux"]) if table["number"] == 2 else (row["method"],)
            paper = [f"{value:.2f}" for value in row["paper"]] if row["paper"] else ["—", "—"]
            errors = [format_percent(row["sem"][m], None) if row["sem"][m] is not None else "—"
                      for m in ("ua", "ua_no_adapt")] if seeded else []
            cells.append([*start, row["preset"], row["folds"], *([row["seeds"]] if seeded else []),
                          *(format_percent(row["mean"][m], row["std"][m]) for m in METRICS),
                          *errors, *([_hours(row["seconds"])] if seeded else []), *paper])
        if seeded:
            lines += ["With several seeds, mean ± std are over every (fold, seed) run; the s.e. "
                      "columns are the standard error over seeds of the fold-mean UA; wall "
                      "time is the sum over the runs.", ""]
        lines += _markdown_table([*first_columns, "Preset", *(["Runs", "Seeds"] if seeded else ["Folds"]),
                                  *METRIC_HEADERS,
                                  *(["UA s.e. (%)", "UA no adapt. s.e. (%)", "Wall time (h)"]
                                    if seeded else []),
                                  *PAPER_HEADERS], cells)
        lines += _footnotes(table)
        if table["omitted"]:
            lines += ["", f"MMTL with other auxiliary tasks ({table['omitted']} combination(s)): "
                          f"see Table 3."]
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def _footnotes(table) -> list:
    """One line per row whose run changed its preset's settings: which ones, and what that
    means beside the paper's columns."""
    lines = []
    for row in table["rows"]:
        if row.get("overrides"):
            preset = row["preset"].rstrip("*")
            what = row["method"] + (f" {row['aux']}" if table["number"] == 2 else "")
            lines.append(f"\\* {what}, preset {row['preset']}: not the {preset} preset's settings "
                         f"({describe_overrides(preset, row['overrides'])}).")
    return ["", *lines] if lines else []


def _preset_cell(row) -> str:
    """The preset, with a changed preset's changes spelled out (the CSV has no footnotes)."""
    if not row.get("overrides"):
        return row["preset"]
    return f"{row['preset']} ({describe_overrides(row['preset'].rstrip('*'), row['overrides'])})"


def _hours(seconds) -> str:
    """Summed wall time in hours ("—" when a run did not record it)."""
    return "—" if seconds is None else f"{seconds / 3600:.2f}"


def render_csv(tables) -> str:
    """CSV of tables from `build_tables`: one line per row, values in %, std empty for 1 fold."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(_CSV_COLUMNS)
    for table in tables:
        for row in table["rows"]:
            values = []
            for metric in METRICS:
                std = row["std"][metric]
                values += [round(100 * row["mean"][metric], 4),
                           "" if std is None else round(100 * std, 4)]
            paper = list(row["paper"]) if row["paper"] else ["", ""]
            writer.writerow([table["corpus"], row["method"], row["aux"], _preset_cell(row),
                             row["folds"], *values, *paper, table["note"]])
    return buffer.getvalue()


def render_fold_summary(summary) -> str:
    """Markdown of one configuration's folds (`summarize` output): a row per fold, mean ± std."""
    label = METHOD_NAMES.get(summary["model"], summary["model"])
    if summary["aux"] != NO_AUX:
        label += f" ({aux_label(summary['aux'])})"
    note = corpus_note(summary["corpus"])
    title = f"# {label} on {summary['corpus']}: {summary['count']}-fold cross-validation"
    if summary.get("sessions", summary["count"]) > summary["count"]:  # a --fold list
        title = (f"# {label} on {summary['corpus']}: {summary['count']} of the "
                 f"{summary['sessions']} folds of leave-one-session-out cross-validation")
    lines = [title + (f" ({note})" if note else ""), "",
             f"Preset {summary['preset']}. UA/WA in %; the last row is the mean ± sample standard "
             f"deviation over the {summary['count']} fold(s).", ""]
    overrides = summary.get("preset_overrides")
    if overrides:  # as `report` footnotes a row of a changed preset
        preset = summary["preset"].rstrip("*")
        lines[-1:-1] = ["", f"\\* preset {summary['preset']}: not the {preset} preset's "
                            f"settings ({describe_overrides(preset, overrides)})."]
    rows = [[row["fold"], row["val_speaker"], row["test_speaker"],
             *(f"{100 * row[m]:.2f}" for m in METRICS), row["best_epoch"]]
            for row in summary["folds"]]
    rows.append(["mean ± std", "", "", *(format_percent(summary["mean"][m], summary["std"][m])
                                          for m in METRICS), ""])
    lines += _markdown_table(["Fold", "Validation", "Test", *METRIC_HEADERS, "Best epoch"], rows)
    collapsed = [f"fold {row['fold']} ({'; '.join(row['collapsed'])})"
                 for row in summary["folds"] if row.get("collapsed")]
    if collapsed:
        lines += ["", "Folds whose test predictions are a single class: " + ", ".join(collapsed)
                  + "."]
    return "\n".join(lines) + "\n"

"""A run's results.json as reports read it: the fields they rely on, checked (no TensorFlow).

`training.train_and_evaluate` writes results.json last, atomically; `read_results` reads one
back for `reporting` and refuses a damaged or foreign file with a message naming the file, the
field and what to do, instead of failing later inside numpy.
"""

import math
import numbers

from mmtl_tf import atomic_files, labels

RESULTS_NAME = "results.json"
SCRATCH_FOLDER = "workers"  # <run_dir>/workers/<task>: a multi-worker run's non-chief scratch


def skip_scratch(files, folders) -> None:
    """Drops a run's multi-worker scratch (`SCRATCH_FOLDER`) from the `folders` an `os.walk`
    step will visit, when `files` make the folder a run: its checkpoints are never a run."""
    if SCRATCH_FOLDER in folders and {"config.json", RESULTS_NAME} & set(files):
        folders.remove(SCRATCH_FOLDER)
METRICS = ("ua", "wa", "ua_no_adapt", "wa_no_adapt")
NO_AUX = "-"
REQUIRED = ("corpus", "fold", "model", "aux", *METRICS)


class ReportError(ValueError):
    """Results cannot be reported as asked; the message names the file or the clash and what to do."""


def _fail(path: str, problem: str):
    raise ReportError(f"{path}: {problem}; the file is damaged or not from mmtl_tf: fix or "
                           f"delete it (a run without {RESULTS_NAME} is skipped), or rerun the run")


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_confusion(path: str, results: dict) -> None:
    """A square matrix of non-negative integer counts, one row per class name."""
    confusion = results["confusion"]
    size = len(confusion) if isinstance(confusion, list) else 0
    rows_ok = size and all(isinstance(row, list) and len(row) == size for row in confusion)
    if not rows_ok:
        _fail(path, "confusion is not a square matrix (a list of equally long rows)")
    if not all(isinstance(count, int) and not isinstance(count, bool) and count >= 0
               for row in confusion for count in row):
        _fail(path, "confusion holds something other than non-negative integer counts")
    names = results.get("class_names")
    if names is not None and (not isinstance(names, list) or len(names) != size
                              or not all(isinstance(name, str) for name in names)):
        _fail(path, f"class_names {names!r} does not name the {size} rows of confusion")


def check_results(path: str, results) -> dict:
    """Checks a results dict read from `path` and returns it with `aux` canonical.

    `aux` becomes task letters in V, A, D order ("av" -> "va"), or "-" for none; a cnn_lstm run
    has no auxiliary tasks, whatever an older run recorded.

    Raises:
      ReportError: a missing field, a metric that is not a number in [0, 1], a fold that
        is not a positive integer, unknown aux letters, or a ragged confusion matrix.
    """
    if not isinstance(results, dict):
        _fail(path, f"holds a JSON {type(results).__name__}, not an object")
    missing = [field for field in REQUIRED if field not in results]
    if missing:
        _fail(path, f"missing {', '.join(missing)}")
    for field in ("corpus", "model", "aux"):
        if not isinstance(results[field], str) or not results[field]:
            _fail(path, f"{field} is {results[field]!r}, not a name")
    for metric in METRICS:
        value = results[metric]
        if not _is_number(value) or not math.isfinite(value) or not 0.0 <= value <= 1.0:
            _fail(path, f"{metric} is {value!r}, not a number in [0, 1]")
    if not isinstance(results["fold"], int) or isinstance(results["fold"], bool) \
            or results["fold"] < 1:
        _fail(path, f"fold is {results['fold']!r}, not a positive integer")
    if "confusion" in results:
        _check_confusion(path, results)
    aux = NO_AUX
    if results["model"] != "cnn_lstm" and results["aux"] != NO_AUX:
        try:
            aux = labels.letters_of(labels.aux_tasks_from_letters(results["aux"]))
        except ValueError as error:
            _fail(path, f"aux {error}")
    return dict(results, aux=aux)


def read_results(path: str) -> dict:
    """Reads and checks one results.json (see `check_results`).

    Raises:
      ReportError: unreadable, not JSON, or failing `check_results`.
    """
    try:
        results = atomic_files.read_json(path)
    except ValueError as error:  # names the file already
        raise ReportError(str(error)) from None
    except OSError as error:
        raise ReportError(f"{path}: cannot read results ({error.strerror or error})") from None
    return check_results(path, results)


def collapsed_predictions(results: dict) -> list:
    """The settings ("adapted", "not adapted") whose test predictions are all one class, each as
    "<setting>: every test utterance predicted <class>" (issue 13's "no fold predicts a single
    class"); [] when the predictions spread over two classes or more, or a single utterance
    was tested."""
    found = []
    for setting, key in (("adapted", "confusion"), ("not adapted", "confusion_no_adapt")):
        name = single_predicted_class(results.get(key), results.get("class_names") or [])
        if name:
            found.append(f"{setting}: every test utterance predicted {name}")
    return found


def single_predicted_class(confusion, class_names):
    """The class every utterance of a confusion matrix (rows true, columns predicted) was
    predicted as, when there is one and at least two utterances; else None."""
    if not confusion or sum(map(sum, confusion)) < 2:
        return None
    predicted = [column for column in range(len(confusion))
                 if any(row[column] for row in confusion)]
    if len(predicted) != 1:
        return None
    column = predicted[0]
    return class_names[column] if column < len(class_names) else f"class {column}"

"""The confusion-matrix picture of a run or a report: matplotlib only, no TensorFlow.

Training draws one per run (confusion_matrix.png and TensorBoard's image) and `report` one per
configuration summed over folds; both call `confusion_matrix_png`.
"""

import io

import numpy as np


def confusion_matrix_png(confusion, class_names, title: str) -> bytes:
    """Renders a confusion matrix (counts and row-normalised shading) as PNG bytes.

    Args:
      confusion: [classes, classes] counts, rows the true class, columns the predicted one.
      class_names: the class of each row and column.
      title: the picture's title (may hold a newline).

    Returns:
      The PNG file's bytes.
    """
    import matplotlib  # pylint: disable=import-outside-toplevel (only when drawing)
    matplotlib.use("Agg")
    from matplotlib import pyplot  # pylint: disable=import-outside-toplevel

    confusion = np.asarray(confusion, np.float64)
    rows = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    figure, axes = pyplot.subplots(figsize=(4.2, 3.8), dpi=100)
    axes.imshow(rows, cmap="Blues", vmin=0, vmax=1)
    for (row, column), value in np.ndenumerate(confusion):
        axes.text(column, row, f"{int(value)}", ha="center", va="center",
                  color="white" if rows[row, column] > 0.5 else "black", fontsize=9)
    axes.set_xticks(range(len(class_names)), class_names)
    axes.set_yticks(range(len(class_names)), class_names)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title, fontsize=9)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    pyplot.close(figure)
    return buffer.getvalue()

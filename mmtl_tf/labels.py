"""The label vocabulary every part of mmtl_tf shares: tasks, V/A/D bins, auxiliary-task letters.

This module imports nothing heavy (no TensorFlow), so corpus readers, the data pipeline, the
algorithms and the reports can all depend on it without depending on each other.

- Label columns of a segment, in `TASKS` order: the target task (emotion) then the auxiliary
  tasks valence, arousal, dominance (paper section 2.1, Eq. 1-3).
- V/A/D scores are binned into at most `NUM_VAD_BINS` classes (paper section 3.1.1,
  `bin_vad_score`; other rating scales give their own bin edges);
  a corpus without a dimension stores `MISSING_LABEL` (-1).
- Users name auxiliary tasks by letters (`--aux=va`); `aux_tasks_from_letters` and
  `letters_of` convert between letters and task names.
"""

# Label columns of an episode, in this order: the target task then the auxiliary tasks (V, A, D).
TASKS = ("emotion", "valence", "arousal", "dominance")
# Auxiliary tasks in the order V, A, D (the paper's and IEMOCAP's order).
AUX_TASKS = TASKS[1:]
AUX_LETTERS = {task[0]: task for task in AUX_TASKS}
MISSING_LABEL = -1
# V/A/D classes after binning (paper section 3.1.1): the width of the meta learner's output.
NUM_VAD_BINS = 4


# The paper's binning of evaluator means on IEMOCAP's 1-5 scale (section 3.1.1): bin edges (a
# score on an edge goes to the upper bin) and the open range a score must lie in.
PAPER_VAD_BIN_EDGES = (2.0, 3.0, 4.0)
PAPER_VAD_SCORE_RANGE = (0.0, 6.0)


def vad_binning_problem(edges, score_range) -> str:
    """What is wrong with a V/A/D binning, or "" when it is usable.

    Args:
      edges: 1 to NUM_VAD_BINS - 1 strictly increasing finite bin edges.
      score_range: (low, high), the open interval every score must lie in, holding the edges.
    """
    edges, score_range = tuple(edges), tuple(score_range)
    if not 1 <= len(edges) < NUM_VAD_BINS:
        return f"give 1 to {NUM_VAD_BINS - 1} bin edges (got {len(edges)})"
    if len(score_range) != 2 or not score_range[0] < score_range[1]:
        return f"the score range must be two increasing numbers low,high (got {score_range})"
    if any(not low < high for low, high in zip(edges, edges[1:])):
        return f"bin edges must increase strictly (got {', '.join(map(str, edges))})"
    if not score_range[0] < edges[0] or not edges[-1] < score_range[1]:
        return (f"bin edges {', '.join(map(str, edges))} must lie inside the score range "
                f"({score_range[0]:g}, {score_range[1]:g})")
    return ""


def bin_vad_score(score: float, edges=PAPER_VAD_BIN_EDGES,
                  score_range=PAPER_VAD_SCORE_RANGE) -> int:
    """Discretises a valence/activation/dominance score (paper section 3.1.1 by default).

    With the paper's edges: (0, 2) -> 0, [2, 3) -> 1, [3, 4) -> 2, [4, 6) -> 3; an edge goes to
    the upper bin. Other scales (a 1-7 or a -1..1 rating) give their own edges and range
    (`--csv_vad_bin_edges`, `--csv_vad_score_range`); k edges give the bins 0..k.

    Args:
      score: mean evaluator score, nominally 1 to 5 on IEMOCAP's scale.
      edges, score_range: the binning (`vad_binning_problem` says what is accepted).

    Returns:
      The bin index 0..len(edges).

    Raises:
      ValueError: if the score is not finite or outside the open `score_range`.
    """
    low, high = score_range
    if not low < score < high:
        raise ValueError(f"V/A/D score {score!r} is outside ({low:g}, {high:g})")
    return sum(1 for edge in edges if score >= edge)


def aux_tasks_from_letters(letters: str) -> tuple:
    """Turns auxiliary-task letters ("va", "DVA", ...) into task names in V, A, D order.

    Raises:
      ValueError: empty, unknown or repeated letters (the message quotes the letters).
    """
    letters = letters.strip().lower()
    if not letters:
        raise ValueError("is empty: give a non-empty subset of v, a, d (e.g. va)")
    unknown = sorted(set(letters) - set(AUX_LETTERS))
    if unknown:
        raise ValueError(f"{letters!r} has unknown letter(s) {', '.join(unknown)}; use v, a, d")
    if len(set(letters)) != len(letters):
        raise ValueError(f"{letters!r} repeats a letter; each of v, a, d at most once")
    return tuple(task for task in AUX_TASKS if task[0] in letters)


def letters_of(aux_tasks) -> str:
    """The letters of auxiliary tasks ("vad" for all three), or "-" for none."""
    return "".join(task[0] for task in aux_tasks) or "-"

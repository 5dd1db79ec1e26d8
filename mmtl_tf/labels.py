"""The label vocabulary every part of mmtl_tf shares: tasks, V/A/D bins, auxiliary-task letters.

This module imports nothing heavy (no TensorFlow), so corpus readers, the data pipeline, the
algorithms and the reports can all depend on it without depending on each other.

- Label columns of a segment, in `TASKS` order: the target task (emotion) then the auxiliary
  tasks valence, arousal, dominance (paper section 2.1, Eq. 1-3).
- V/A/D scores are binned into `NUM_VAD_BINS` classes (paper section 3.1.1, `bin_vad_score`);
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


def bin_vad_score(score: float) -> int:
    """Discretises a valence/activation/dominance score as the paper does (section 3.1.1).

    (0, 2) -> 0, [2, 3) -> 1, [3, 4) -> 2, [4, 6) -> 3; an edge goes to the upper bin.

    Args:
      score: mean evaluator score, nominally 1 to 5.

    Returns:
      The bin index 0..3.

    Raises:
      ValueError: if the score is not finite or outside (0, 6).
    """
    if not (0.0 < score < 6.0):
        raise ValueError(f"V/A/D score {score!r} is outside (0, 6)")
    if score < 2.0:
        return 0
    if score < 3.0:
        return 1
    if score < 4.0:
        return 2
    return 3


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

"""How long a run trains and which of its checkpoints is kept: steps, evaluations, selection.

Training length is counted in outer steps (one episode each), so it fits any corpus size:
`train_steps` outer steps, a validation every `eval_every` steps. With `train_steps=0` the
length is the paper's: `epochs` passes over the largest training speaker, i.e.
`epochs * ceil(largest speaker's segments / B)` steps (IEMOCAP's paper preset: 30 epochs of
15 steps = 450 steps). Episodes stay organised in epochs (each epoch reshuffles every speaker,
deterministically in (seed, epoch)), so step s is episode `s % steps_per_epoch` of epoch
`s // steps_per_epoch` whatever the evaluation interval, and a resumed run sees the same episodes.

Model selection resists a noisy validation speaker: each validation UA is appended to a
history; the selection score at evaluation t is the mean of the last `smoothing` UAs (a trailing
moving average; smoothing=1 is the raw UA); the kept checkpoint is the one at which the score was
highest (the earliest on ties), and with `patience > 0` training stops once that many evaluations
have passed without a higher score. The test speaker plays no part in any of this.
"""

import dataclasses
import math

import numpy as np

from mmtl_tf import episode_plan


MAX_EVALUATIONS = 1_000_000  # every validation's score is kept (8 bytes each, checkpointed)


@dataclasses.dataclass(frozen=True)
class Schedule:
    """The step plan of one run.

    Attributes:
      total_steps: outer steps to train (before any early stop).
      eval_every: steps between validations (the last validation is at `total_steps`).
      steps_per_epoch: episodes per pass over the largest training speaker.
    """

    total_steps: int
    eval_every: int
    steps_per_epoch: int

    @property
    def num_evaluations(self) -> int:
        """Validations in a full run (one after every `eval_every` steps and one at the end)."""
        return math.ceil(self.total_steps / self.eval_every) if self.total_steps else 0

    @property
    def epochs(self) -> float:
        """Passes over the largest training speaker that the run amounts to."""
        return self.total_steps / self.steps_per_epoch

    def epoch_and_index(self, step: int) -> tuple:
        """(epoch, episode index within that epoch) of the 0-based outer step `step`."""
        return divmod(step, self.steps_per_epoch)

    def evaluation_step(self, index: int) -> int:
        """The step count of the 0-based evaluation `index` (the last one is at `total_steps`)."""
        return min((index + 1) * self.eval_every, self.total_steps)

    def next_evaluation(self, step: int) -> int:
        """The step count at which the evaluation following `step` completed steps happens."""
        return min(self.total_steps, (step // self.eval_every + 1) * self.eval_every)


def make_schedule(train_steps: int, eval_every: int, epochs: int, steps_per_epoch: int) -> Schedule:
    """Resolves the flags into a `Schedule`.

    Args:
      train_steps: outer steps; 0 means `epochs * steps_per_epoch` (the paper's budget).
      eval_every: steps between validations; 0 means once per epoch (`steps_per_epoch`).
      epochs: passes over the largest speaker, used when `train_steps` is 0.
      steps_per_epoch: `episode_plan.steps_per_epoch` of the training speakers.

    Raises:
      ValueError: a negative count, or more validations than `MAX_EVALUATIONS` (the run keeps
        every validation score in its checkpoint), naming the flags.
    """
    if min(train_steps, eval_every, epochs) < 0 or steps_per_epoch < 1:
        raise ValueError(f"schedule counts must be >= 0 (train_steps={train_steps}, eval_every="
                         f"{eval_every}, epochs={epochs}, steps_per_epoch={steps_per_epoch})")
    total = train_steps or epochs * steps_per_epoch
    schedule = Schedule(total_steps=total, eval_every=eval_every or steps_per_epoch,
                        steps_per_epoch=steps_per_epoch)
    if schedule.num_evaluations > MAX_EVALUATIONS:
        raise ValueError(f"--train_steps={train_steps} --epochs={epochs} --eval_every="
                         f"{eval_every} plan {schedule.num_evaluations:,} validations (more than "
                         f"{MAX_EVALUATIONS:,}); validate less often (--eval_every) or train "
                         f"fewer steps")
    return schedule


def run_schedule(train, manifest: dict, train_speakers) -> Schedule:
    """The `Schedule` of a fold: `make_schedule` of a `config.TrainConfig`'s counts over the
    epoch of its training speakers (`episode_plan.steps_per_epoch`). Training and the commands'
    checks before anything is written (`experiment_setup.check_planned_runs`) both call it, so a
    plan refused here is refused before a run directory is made.

    Raises:
      ValueError: see `make_schedule`.
    """
    return make_schedule(train.train_steps, train.eval_every, train.epochs,
                         episode_plan.steps_per_epoch(manifest, train_speakers,
                                                      train.segments_per_speaker))


def smoothed_scores(history, smoothing: int) -> np.ndarray:
    """Trailing moving averages of a validation history.

    Args:
      history: validation UAs in evaluation order.
      smoothing: window length (>= 1); early entries average what exists so far.

    Returns:
      float64 array, same length as `history`: entry t is mean(history[max(0, t-smoothing+1):t+1]).
    """
    values = np.asarray(history, np.float64)
    if smoothing < 1:
        raise ValueError(f"smoothing must be >= 1, got {smoothing}")
    means = [values[max(0, end - smoothing):end].mean() for end in range(1, len(values) + 1)]
    # Rounded so that windows holding the same UAs in another order tie exactly.
    return np.round(np.asarray(means, np.float64), 12)


@dataclasses.dataclass(frozen=True)
class Selection:
    """Where model selection stands after some evaluations.

    Attributes:
      best_index: 0-based evaluation with the highest smoothed score (-1 with no evaluation).
      best_score: that score (-inf with no evaluation).
      stop: True when `patience` evaluations have passed since `best_index`.
    """

    best_index: int
    best_score: float
    stop: bool


def select(history, smoothing: int, patience: int) -> Selection:
    """Model selection over a validation history (see the module docstring).

    Args:
      history: validation UAs so far.
      smoothing: moving-average window (1 = raw UA).
      patience: evaluations without a higher score before stopping; 0 never stops.
    """
    if len(history) == 0:
        return Selection(-1, float("-inf"), False)
    scores = smoothed_scores(history, smoothing)
    best = int(np.argmax(scores))  # argmax returns the first maximum: the earliest on ties
    waited = len(scores) - 1 - best
    return Selection(best, float(scores[best]), patience > 0 and waited >= patience)

"""The step schedule and model selection (`mmtl_tf.schedule`), against independent computations."""

import numpy as np
import pytest

from mmtl_tf import schedule


def test_zero_train_steps_keeps_the_epoch_budget():
    # IEMOCAP's paper preset: ~450 segments in the largest speaker, B = 32 -> 15 steps per epoch.
    plan = schedule.make_schedule(train_steps=0, eval_every=0, epochs=30, steps_per_epoch=15)
    assert (plan.total_steps, plan.eval_every, plan.num_evaluations) == (450, 15, 30)
    plan = schedule.make_schedule(train_steps=1000, eval_every=40, epochs=30, steps_per_epoch=4)
    assert (plan.total_steps, plan.eval_every, plan.num_evaluations, plan.epochs) == (1000, 40, 25, 250)
    plan = schedule.make_schedule(train_steps=9, eval_every=4, epochs=1, steps_per_epoch=6)
    evaluations = [step for step in range(1, 10) if step % 4 == 0 or step == 9]
    assert plan.num_evaluations == len(evaluations) == 3
    assert [plan.next_evaluation(step) for step in (0, 3, 4, 8)] == [4, 4, 8, 9]
    assert [plan.evaluation_step(index) for index in range(3)] == evaluations
    with pytest.raises(ValueError):
        schedule.make_schedule(train_steps=-1, eval_every=0, epochs=1, steps_per_epoch=1)
    # 4e9 validations would be a 32 GB score history: refused naming the flags, not an OOM.
    with pytest.raises(ValueError, match="--train_steps=4000000000 .* --eval_every=1 plan"):
        schedule.make_schedule(train_steps=4_000_000_000, eval_every=1, epochs=1, steps_per_epoch=6)
    assert schedule.make_schedule(4_000_000_000, 4000, 1, 6).num_evaluations == 1_000_000


def test_steps_map_to_epochs_and_positions():
    plan = schedule.make_schedule(train_steps=20, eval_every=3, epochs=1, steps_per_epoch=6)
    visited = [plan.epoch_and_index(step) for step in range(20)]
    assert visited == [(epoch, index) for epoch in range(4) for index in range(6)][:20]


def test_smoothed_scores_are_trailing_means():
    rng = np.random.default_rng(3)
    history = rng.choice([0.25, 0.5, 0.625, 0.75], size=17)
    for window in (1, 2, 3, 5):
        expected = [np.mean(history[max(0, t - window + 1):t + 1]) for t in range(len(history))]
        np.testing.assert_allclose(schedule.smoothed_scores(history, window), expected, atol=1e-12)


def test_selection_resists_a_single_lucky_evaluation():
    history = [0.30, 0.45, 0.90, 0.35, 0.60, 0.65, 0.62, 0.40, 0.38]
    raw = schedule.select(history, smoothing=1, patience=0)
    assert raw.best_index == 2  # one lucky evaluation wins on the raw UA
    smoothed = schedule.select(history, smoothing=3, patience=0)
    assert smoothed.best_index == 6 and smoothed.best_score == pytest.approx((0.60 + 0.65 + 0.62) / 3)
    assert not smoothed.stop


def test_patience_stops_and_ties_keep_the_earliest():
    history = [0.25, 0.5, 0.5, 0.5]
    assert schedule.select(history[:3], smoothing=1, patience=2).stop is False
    stopped = schedule.select(history, smoothing=1, patience=2)
    assert stopped.best_index == 1 and stopped.stop
    # Windows with the same values in another order tie exactly (no float noise).
    tied = schedule.select([0.0, 0.0, 0.2, 0.7, 0.1, 0.0, 0.1, 0.2, 0.7], smoothing=3, patience=0)
    assert tied.best_index == 4
    assert schedule.select([], smoothing=3, patience=1) == schedule.Selection(-1, float("-inf"), False)

"""The plan of an epoch of episodes: which speakers each outer step takes, and which segments.

The plan is made in numpy from (seed, epoch) alone, before anything is read: m speakers per step
(all of them, in order, when m is 0), and B segments of each, every speaker walking through its
own shuffles of its segments, one after the other, so a speaker is seen whole before any segment
repeats. An epoch ends when the largest speaker has been seen once (`steps_per_epoch`), as in
the authors' code, so smaller speakers wrap around within an epoch. `mmtl_tf.episodes` turns the
plan into the records to read and reads them.
"""

import math

import numpy as np

_SEED_MASK = 2**63 - 1


def steps_per_epoch(manifest: dict, speakers, segments_per_speaker: int) -> int:
    """Outer steps until the largest speaker has been seen once."""
    largest = max(manifest["speakers"][s]["num_segments"] for s in speakers)
    return max(1, math.ceil(largest / segments_per_speaker))


def _rng(*values) -> np.random.Generator:
    """A numpy generator seeded by integers (any sign)."""
    return np.random.default_rng([value & _SEED_MASK for value in values])


def epoch_plan(sizes, steps: int, segments_per_speaker: int, speakers_per_episode: int,
               seed: int, epoch: int):
    """Which speakers each step of an epoch takes, and which of their segments.

    Args:
      sizes: segments of each training speaker, in the order of `speakers`.
      steps: outer steps of the epoch.
      segments_per_speaker: B.
      speakers_per_episode: m; 0 (or >= len(sizes)) takes every speaker, in order.
      seed, epoch: select the sampling; the plan depends on nothing else.

    Returns:
      (rows int64 [steps, m] indices into `sizes`, segments int64 [steps, m, B] indices into
      each chosen speaker's segments in prepared order).
    """
    count = len(sizes)
    every = not 0 < speakers_per_episode < count
    width = count if every else speakers_per_episode
    choice = _rng(seed, epoch, 0)
    rows = np.array([np.arange(count) if every else choice.permutation(count)[:width]
                     for _ in range(steps)], np.int64).reshape(steps, width)
    segments = np.zeros((steps, width, segments_per_speaker), np.int64)
    for row, size in enumerate(sizes):
        visits = np.argwhere(rows == row)  # (step, slot) pairs, in step order
        needed = len(visits) * segments_per_speaker
        if not needed:
            continue
        shuffles = _rng(seed, epoch, 1 + row)
        walk = np.concatenate([shuffles.permutation(size) for _ in range(-(-needed // size))])
        segments[visits[:, 0], visits[:, 1]] = walk[:needed].reshape(-1, segments_per_speaker)
    return rows, segments

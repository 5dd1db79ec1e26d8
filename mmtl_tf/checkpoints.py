"""Checkpoint keys of the networks, and where a run directory keeps its checkpoints.

    run_dir/checkpoints/latest   the last finished epochs (the resume point)
    run_dir/checkpoints/best     the epoch with the best validation UA (model selection)

Keras 3 models handed to `tf.train.Checkpoint` do not contribute their variables under their own
names, and Keras numbers layer names per process (`lstm_1`, `seed_generator_3`), so each network
is checkpointed as a `tf.train.Checkpoint` of its variables keyed by their index in
`model.variables`, which the architecture fixes: restoring works in any process and fails
loudly when a variable is missing.
"""

import os

import tensorflow as tf

LATEST, BEST = "latest", "best"
ELAPSED = "elapsed_seconds"  # a run's checkpointed training time of its processes so far


class CheckpointError(RuntimeError):
    """A checkpoint cannot be restored (damaged or of another model); the message names it."""


def restore(checkpoint, path: str, partial: bool = False) -> None:
    """Restores `path` into `checkpoint`, every existing object matched.

    Args:
      checkpoint: the `tf.train.Checkpoint` to restore into.
      path: the checkpoint prefix (`.../ckpt-N`).
      partial: the checkpoint may hold objects `checkpoint` does not (the optimizers, when only
        the networks are wanted).

    Raises:
      CheckpointError: the files are damaged (truncated, corrupt index) or hold another model's
        variables; the message names the checkpoint and what to do.
    """
    try:
        status = checkpoint.restore(path)
        if partial:
            status = status.expect_partial()
        status.assert_existing_objects_matched()
    except (tf.errors.OpError, IndexError, ValueError, AssertionError) as error:
        folder = os.path.dirname(path)
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(
            f"{path}: the checkpoint cannot be restored ({detail[:300]}). If it is damaged, "
            f"delete its files ({path}.*) and the `checkpoint` file in {folder}: the run then "
            f"resumes from the other checkpoint kept there, if any; or train again with "
            f"--rerun") from None


def holds(path: str, name: str) -> bool:
    """Whether the checkpoint `path` has a value for the object `name` of its root."""
    try:
        return any(key.split("/", 1)[0] == name for key, _ in tf.train.list_variables(path))
    except (tf.errors.OpError, ValueError):
        return True  # unreadable: `restore` names the damage


def checkpoint_dir(run_dir: str, kind: str) -> str:
    """`run_dir/checkpoints/<kind>`, kind being `LATEST` or `BEST`."""
    return os.path.join(run_dir, "checkpoints", kind)


def network_trackables(algorithm) -> dict:
    """Checkpoint dependencies holding every network variable, keyed by its position.

    Args:
      algorithm: an `algorithms.base.Algorithm` (anything with `networks()`).

    Returns:
      dict network name -> `tf.train.Checkpoint` of its variables named v000, v001, ...
    """
    return {name: tf.train.Checkpoint(**{f"v{index:03d}": v for index, v in enumerate(model.variables)})
            for name, model in algorithm.networks().items()}


def restore_selected(algorithm, run_dir: str) -> str:
    """Restores the networks' weights of the selected checkpoint of a run directory.

    The `best` checkpoint (best validation UA) is restored; a run with none yet falls back to
    its `latest` checkpoint.

    Args:
      algorithm: an algorithm built with the run's configuration.
      run_dir: the run directory.

    Returns:
      The checkpoint path restored, or "" when the run has no checkpoint yet.

    Raises:
      CheckpointError: the checkpoint cannot be restored (see `restore`).
    """
    checkpoint = tf.train.Checkpoint(**network_trackables(algorithm))
    for kind in (BEST, LATEST):
        found = tf.train.latest_checkpoint(checkpoint_dir(run_dir, kind))
        if found:
            restore(checkpoint, found, partial=True)
            return found
    return ""


def run_checkpoint(algorithm, optimizers, state, omit=()) -> tf.train.Checkpoint:
    """The checkpoint of a run: networks, `state` less the names in `omit`, optimizers."""
    kept = {name: value for name, value in state.items() if name not in omit}
    return tf.train.Checkpoint(**network_trackables(algorithm), **kept,
                               **{f"optimizer_{n}": o for n, o in optimizers.items()})


def restore_run(algorithm, optimizers, state, checkpoint, path: str) -> None:
    """Restores a run's checkpoint `path`; one written before `elapsed_seconds` was kept
    restores everything else (its earlier time is then unknown and counts as 0)."""
    if holds(path, ELAPSED):
        restore(checkpoint, path)
    else:
        restore(run_checkpoint(algorithm, optimizers, state, omit=(ELAPSED,)), path)


def resume_run(algorithm, optimizers, state, checkpoint, run_dir: str, restore_latest: bool):
    """Restores the latest checkpoint of the (chief's) `run_dir`, if any and `restore_latest`;
    every worker of a multi-worker run resumes from the chief's, so all start at one step with
    one set of weights (a worker starting afresh beside a resumed chief trained on other
    weights and episodes, then hung or crashed).

    Returns:
      The path of `run_dir`'s best checkpoint (None if none or not `restore_latest`): a
      non-chief worker's own best checkpoints are in its scratch directory.
    """
    if not restore_latest:
        return None
    latest = tf.train.latest_checkpoint(checkpoint_dir(run_dir, LATEST))
    if latest:
        restore_run(algorithm, optimizers, state, checkpoint, latest)
        print(f"resuming {run_dir} after step {int(state['step'].numpy())}")
    return tf.train.latest_checkpoint(checkpoint_dir(run_dir, BEST))

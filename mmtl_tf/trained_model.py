"""A trained model rebuilt from its run directory: the algorithm with its selected weights.

`load_trained` reads the run's config.json (`run_dir.read_experiment`), builds the algorithm it
records (`algorithms.build_algorithm`) and restores the selected checkpoint
(`checkpoints.restore_selected`: `best`, else `latest`). Export and the tests use it; training
builds its algorithm itself.
"""

from mmtl_tf import algorithms, checkpoints, run_dir as run_dir_lib


def load_trained(run_dir: str):
    """Rebuilds a finished (or interrupted) run's algorithm with its selected weights.

    Args:
      run_dir: a directory written by `training.train_and_evaluate`.

    Returns:
      (algorithm, record): the algorithm with restored weights, and config.json's dict
      (experiment, corpus, class_names, speakers).

    Raises:
      run_dir.RunDirError: not a run directory, an unreadable config.json, or no checkpoint.
    """
    record, experiment = run_dir_lib.read_experiment(run_dir)
    algorithm = algorithms.build_algorithm(experiment.model, experiment.train,
                                           len(record["class_names"]))
    if not checkpoints.restore_selected(algorithm, run_dir):
        raise run_dir_lib.RunDirError(f"{run_dir} has no checkpoint yet; train it first")
    return algorithm, record

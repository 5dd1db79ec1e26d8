"""The steps from parsed flags to a checked experiment, shared by `main` and `sweep`.

`prepare_experiment` runs them in this order, so nothing is prepared or written before every
check that can fail without training has passed:

1. `locate_data`: the manifest of --tfrecord_dir, or the listing of --corpus when main prepares
   it first; the folds are counted from its sessions, so `--fold=7` on a five-session corpus
   fails before any preparation. Then the preparation itself, when needed.
2. `build_experiment`: the configs and the run directory (default
   runs/<corpus>-<fold and aux, or the sweep's name>-<model>-<time>).
3. `check_planned_runs`: every run directory the command will train is checked against the data
   (--aux, --val_speaker), the step plan (--train_steps, --epochs, --eval_every), the settings
   a previous run left in it and a live run holding it, writing nothing: a refused run leaves
   the run directory as it was (absent, if it was). What makes a fold's numbers mean less (a
   class its training lacks, a validation speaker lacking classes or with fewer than two
   utterances per class) is warned of here, once.
4. `write_flags_file`: flags.txt, the command's own flags.

`configure_devices` is separate: it must run before TensorFlow touches a device (main and sweep
call it first), and tests calling `prepare_experiment` in-process leave their process alone.
"""

import dataclasses
import datetime
import os
import re

from absl import flags

from mmtl_tf import atomic_files, cli_flags, corpus_notes, directory_lock, experiments
from mmtl_tf import flag_configs, folds, label_flags, labels
from mmtl_tf import preparation
from mmtl_tf import run_dir as run_dir_lib
from mmtl_tf import schedule as schedule_lib
from mmtl_tf import tfrecords, training

FLAGS = flags.FLAGS


def configure_devices(flag_values=FLAGS) -> None:
    """--strategy=mirrored's logical CPUs, --mixed_precision, and deterministic ops."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel

    from mmtl_tf import distribution  # pylint: disable=import-outside-toplevel
    if flag_values["strategy"].value == "mirrored":
        distribution.configure_cpu_devices(flag_values["num_cpu_devices"].value)
    if flag_values["strategy"].value == "multi_worker":  # before anything is written
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--strategy=multi_worker needs the TF_CONFIG environment variable "
                             "(see BUILD.md, 'Scaling out')")
        distribution.parse_tf_config(os.environ["TF_CONFIG"])
    if flag_values["mixed_precision"].value:
        distribution.enable_mixed_precision()
    tf.config.experimental.enable_op_determinism()


def every_fold(flag_values=FLAGS) -> bool:
    """True for --fold=all or a list of folds (1,2,4): each into <run_dir>/fold<k>/, with a
    summary."""
    text = flag_values["fold"].value.strip().lower()
    return text == "all" or "," in text


def _sessions(listing) -> dict:
    """The part of a manifest `experiments.resolve_folds` reads, from a corpus listing."""
    return {"corpus": listing.corpus,
            "speakers": {speaker: {"session": session}
                         for speaker, session in listing.speakers().items()}}


def locate_data(flag_values, feature_config):
    """Finds (or prepares) the data and resolves --fold against its sessions.

    Returns:
      (tfrecord_dir, manifest, folds).

    Raises:
      ValueError: --fold does not fit the corpus (before any preparation), or the prepared data
        does not fit the feature flags.
    """
    fold = flag_values["fold"].value
    directory = flag_values["tfrecord_dir"].value
    if not directory:
        choice = flag_configs.corpus_choice_from_flags(flag_values)
        directory = flag_configs.default_tfrecord_dir(choice)
        listing = flag_configs.read_corpus(choice)
        experiments.resolve_folds(fold, _sessions(listing))
        print(f"no --tfrecord_dir: preparing --corpus={choice.corpus} into {directory} "
              f"(cached; finished speakers are skipped)")
        preparation.prepare_corpus(listing, feature_config, directory, show_progress=True,
                                   source=flag_configs.corpus_source(choice),
                                   labelling=label_flags.labelling(choice))
        manifest = tfrecords.load_manifest(directory, feature_config)
    else:
        manifest = tfrecords.load_manifest(directory, feature_config)
        label_flags.check_prepared_labels(flag_values, manifest, directory)
    return directory, manifest, experiments.resolve_folds(fold, manifest)


def default_run_dir(corpus: str, name: str, model: str) -> str:
    """runs/<corpus>-<name>-<model>-<time>, the corpus made safe for a file name."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    safe_corpus = re.sub(r"[^A-Za-z0-9_.-]+", "_", corpus)
    return os.path.join("runs", f"{safe_corpus}-{name}-{model}-{stamp}")


def build_experiment(flag_values, tfrecord_dir: str, corpus: str, name: str = ""):
    """The ExperimentConfig of the flags; `name` replaces fold<f>-<aux> in the default run_dir.

    With --fold=all or a list the experiment's fold is a placeholder (the first): each fold gets
    its own.
    """
    fold = flag_values["fold"].value.strip().lower()
    first = fold.split(",")[0].strip()
    experiment = flag_configs.experiment_config_from_flags(
        flag_values, tfrecord_dir, run_dir=flag_values["run_dir"].value or "",
        fold=1 if fold == "all" else int(first))
    if not experiment.run_dir:
        folds_name = "-".join(item.strip() for item in fold.split(","))
        name = name or f"fold{folds_name}-{labels.letters_of(experiment.train.aux_tasks)}"
        experiment = dataclasses.replace(
            experiment, run_dir=default_run_dir(corpus, name, experiment.train.model))
    return experiment


def planned_runs(experiment, folds, all_folds: bool, combinations=()) -> list:
    """The fold experiments (each with its run_dir) that `experiments` will train."""
    if combinations:  # run_sweep: <run_dir>/aux-<letters>/fold<k>
        return [experiments.fold_experiment(experiments.aux_experiment(experiment, letters), fold)
                for letters in combinations for fold in folds]
    if all_folds:  # run_folds: <run_dir>/fold<k>
        return [experiments.fold_experiment(experiment, fold) for fold in folds]
    return [experiment]


def check_planned_runs(runs, rerun: bool, log=print) -> None:
    """Checks each run against the data and the settings its run_dir holds; writes nothing.

    Every fault training would otherwise meet after flags.txt (and config.json) were written is
    raised here: the data, the episode's split over replicas, the step plan (`schedule`), the
    settings a resumed run_dir records, and a run_dir another live process trains in. A
    fold whose numbers mean less than they seem (`folds.fold_warnings`) and a validation speaker
    too small to select checkpoints by (`folds.small_validation_warning`) are warned of, each
    warning once.

    Raises:
      ValueError: --aux or --val_speaker do not fit the data, a fold's episode cannot be split
        evenly over the replicas, or the schedule plans too many validations.
      run_dir.RunDirError: a run_dir holds a run with other settings (not with --rerun, which
        clears it), or another process is training in it.
    """
    from mmtl_tf import distribution  # pylint: disable=import-outside-toplevel
    replicas = distribution.planned_replicas(runs[0].strategy, runs[0].num_cpu_devices)
    warned = set()
    for run in runs:
        manifest, split = training.check_data(run)
        # every fold's episode, before any trains (a fold of other size failed midway)
        distribution.check_divisible(replicas, training.episode_speakers(run, split))
        schedule_lib.run_schedule(run.train, manifest, split.train)
        aux = run.train.aux_tasks if run.train.model != "cnn_lstm" else ()
        warnings = [f"warning: fold {split.fold}: {warning}"
                    for warning in folds.fold_warnings(manifest, split, aux)]
        warnings.append(folds.small_validation_warning(manifest, split))
        for warning in warnings:  # a sweep plans each fold once per combination: warn once
            if warning and warning not in warned:
                warned.add(warning)
                log(warning)
        if not rerun:
            run_dir_lib.check_same_settings(run.run_dir,
                                            run_dir_lib.config_record(run, manifest, split))
        chief = distribution.is_chief(run.strategy)  # a worker beside a training chief is fine
        if chief and os.path.exists(os.path.join(run.run_dir, directory_lock.LOCK_NAME)):
            with run_dir_lib.RunLock(run.run_dir):  # free unless a live run holds it
                pass


def write_flags_file(run_dir: str, command, flag_values=FLAGS) -> None:
    """Writes <run_dir>/flags.txt: the command's own flags, a flagfile that reruns it."""
    os.makedirs(run_dir, exist_ok=True)
    atomic_files.write_text(os.path.join(run_dir, "flags.txt"),
                            cli_flags.flags_text(command, flag_values))


def prepare_experiment(command, flag_values=FLAGS, name: str = "", combinations=()):
    """Runs the steps of the module docstring.

    Args:
      command: `cli_flags.MAIN` or `cli_flags.SWEEP` (its flags go to flags.txt).
      flag_values: the parsed flags.
      name: replaces fold<f>-<aux> in the default run_dir name (the sweep passes "sweep").
      combinations: the sweep's auxiliary-task letter combinations.

    Returns:
      (experiment, folds).
    """
    feature_config = flag_configs.feature_config_from_flags(flag_values)
    tfrecord_dir, manifest, folds = locate_data(flag_values, feature_config)
    experiment = build_experiment(flag_values, tfrecord_dir, manifest["corpus"], name)
    runs = planned_runs(experiment, folds, every_fold(flag_values), combinations)
    check_planned_runs(runs, flag_values["rerun"].value)
    write_flags_file(experiment.run_dir, command, flag_values)
    print(f"run directory: {experiment.run_dir}  ({corpus_notes.corpus_label(manifest['corpus'])})")
    return experiment, folds

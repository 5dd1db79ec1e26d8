"""Table 3's auxiliary-task sweep: `python -m mmtl_tf.sweep --model=mmtl --fold=all [main flags]`.

Takes every flag of `python -m mmtl_tf.main` (presets included) except --aux, and trains the
model once per auxiliary-task combination, in the paper's row order V, A, D, V+D, A+D, V+A,
V+A+D (or --aux_combinations), each fold into <run_dir>/aux-<letters>/fold<k>/ (--fold=all: every
fold) with <run_dir>/aux-<letters>/summary.{json,md}. Finished folds are skipped and interrupted
ones resume, so rerunning the same command continues a sweep; --rerun recomputes. The sweep
directory gets summary.json and summary.md (Tables 2/3 layout), and `tensorboard
--logdir=<run_dir>` shows every run, with an HParams session each. Default run_dir:
runs/<corpus>-sweep-<model>-<timestamp>.
"""

from absl import flags

from mmtl_tf import cli_app, cli_flags, labels, preset_settings

COMMAND = cli_flags.define_command(cli_flags.SWEEP)
FLAGS = flags.FLAGS


def combinations_from_flags(flag_values=FLAGS) -> list:
    """--aux_combinations as letters in V, A, D order (`av` -> `va`), checked at parse time."""
    return [labels.letters_of(labels.aux_tasks_from_letters(letters))
            for letters in flag_values["aux_combinations"].value]


def run(flag_values=FLAGS) -> dict:
    """Parsed flags -> `experiments.run_sweep` over --aux_combinations."""
    # pylint: disable=import-outside-toplevel (TensorFlow loads after the flags are checked)
    from mmtl_tf import experiment_setup, experiments
    combinations = combinations_from_flags(flag_values)
    experiment_setup.configure_devices(flag_values)
    experiment, folds = experiment_setup.prepare_experiment(
        COMMAND, flag_values, name="sweep", combinations=combinations)
    return experiments.run_sweep(experiment, folds, combinations,
                                 rerun=flag_values["rerun"].value,
                                 preset_defaults=preset_settings.preset_defaults([experiment.preset]))


def main(argv):
    """Runs `run` (the flags are parsed and checked by `cli_app.run`)."""
    del argv  # the sweep takes flags only
    run()


if __name__ == "__main__":
    cli_app.run(main, COMMAND, __doc__)

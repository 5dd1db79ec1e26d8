"""Trains and evaluates MMTL (or a baseline) on one fold: `python -m mmtl_tf.main --fold=2 --aux=vad`.

Flags come from a preset (`--preset=demo` loads flags/demo.cfg; the default is the paper
preset), any --flagfile and the command line, in that order of precedence from low to high;
`--help` lists them. With no --tfrecord_dir the corpus named by --corpus (default: the embedded
synthetic corpus) is prepared first into tfrecords/, cached for later runs. The run directory
gets flags.txt, checkpoints (a rerun resumes), TensorBoard summaries, results.json and a
SavedModel export. Errors in flags or data end with "error: ..." and exit status 1
(--verbosity=1 shows the traceback).

`--fold=all` runs every fold (one per session; a list such as `--fold=1,2,4` runs those) into
<run_dir>/fold<k>/ and writes
<run_dir>/summary.json and summary.md (mean ± std over folds). A finished fold is skipped and an
interrupted one resumes; `--rerun` recomputes. The Table 3 sweep over --aux combinations is
`python -m mmtl_tf.sweep`, which takes these same flags.
"""

from absl import flags

from mmtl_tf import cli_app, cli_flags, preset_settings

COMMAND = cli_flags.define_command(cli_flags.MAIN)
FLAGS = flags.FLAGS


def run(flag_values=FLAGS) -> dict:
    """Parsed flags -> `experiments.run_fold` (train, evaluate, export), or `run_folds`."""
    # pylint: disable=import-outside-toplevel (TensorFlow loads after the flags are checked)
    from mmtl_tf import experiment_setup, experiments
    experiment_setup.configure_devices(flag_values)
    experiment, folds = experiment_setup.prepare_experiment(COMMAND, flag_values)
    if experiment_setup.every_fold(flag_values):
        return experiments.run_folds(experiment, folds, rerun=flag_values["rerun"].value,
                                     preset_defaults=preset_settings.preset_defaults(
                                         [experiment.preset]))
    return experiments.run_fold(experiment, rerun=flag_values["rerun"].value)


def main(argv):
    """Runs `run` (the flags are parsed and checked by `cli_app.run`)."""
    del argv  # main takes flags only
    run()


if __name__ == "__main__":
    cli_app.run(main, COMMAND, __doc__)

"""Table 3's auxiliary-task sweep: `python -m mmtl_tf.sweep --model=mmtl --fold=all [main flags]`.

Takes every flag of `python -m mmtl_tf.main` (preset flagfiles included) except --aux, and trains
the model once per auxiliary-task combination, in the paper's row order V, A, D, V+D, A+D, V+A,
V+A+D (or --aux_combinations), each fold into <run_dir>/aux-<letters>/fold<k>/ (--fold=all: every
fold) with <run_dir>/aux-<letters>/summary.{json,md}. Finished folds are skipped and interrupted
ones resume, so rerunning the same command continues a sweep; --rerun recomputes. The sweep directory gets
summary.json and summary.md (Tables 2/3 layout), and `tensorboard --logdir=<run_dir>` shows every
run, with an HParams session each. Default run_dir: runs/<corpus>-sweep-<model>-<timestamp>.
"""


from absl import app
from absl import flags
from absl import logging

from mmtl_tf import cli_flags, experiments
from mmtl_tf import main as main_cli  # defines main's flags, which the sweep shares

cli_flags.define_once(flags.DEFINE_list, "aux_combinations", list(experiments.SWEEP_AUX),
                      "Auxiliary-task combinations to run, in order (Table 3: v,a,d,vd,ad,va,vad); "
                      "each a non-empty subset of v, a, d. The sweep ignores --aux.")
FLAGS = flags.FLAGS


def _letters(combination: str) -> str:
    """A combination's letters in V, A, D order (`av` -> `va`); app.UsageError when invalid."""
    return "".join(task[0] for task in main_cli.parse_aux(combination))


def _validate_combinations(values) -> bool:
    if not values:
        raise flags.ValidationError("name at least one combination, e.g. --aux_combinations=v,va")
    canonical = []
    for letters in values:
        try:
            canonical.append(_letters(letters))
        except app.UsageError as error:
            raise flags.ValidationError(str(error).replace("--aux=", "combination ")) from None
    if len(set(canonical)) != len(canonical):
        raise flags.ValidationError(f"{','.join(values)} names a combination twice")
    return True


flags.register_validator("aux_combinations", _validate_combinations)


def run() -> dict:
    """Flags -> configs -> `experiments.run_sweep` over --aux_combinations."""
    if FLAGS.model == "cnn_lstm":
        raise app.UsageError("--model=cnn_lstm has no auxiliary tasks to sweep; use --model=mmtl "
                             "(Table 3) or --model=mtl")
    combinations = [_letters(letters) for letters in FLAGS.aux_combinations]
    experiment, _, folds = main_cli.setup_from_flags(name="sweep")
    return experiments.run_sweep(experiment, folds, combinations, rerun=FLAGS.rerun)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    if FLAGS.verbosity < 1:
        logging.set_verbosity(logging.WARNING)
    cli_flags.run_reporting_errors(run, main_cli.CLEAN_ERRORS)


if __name__ == "__main__":
    app.run(main)

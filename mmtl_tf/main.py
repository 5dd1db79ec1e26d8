"""Trains and evaluates MMTL (or a baseline) on one fold: `python -m mmtl_tf.main --fold=2 --aux=vad`.

Flags come from a preset flagfile (`--flagfile=flags/demo.cfg`; the defaults are the `paper`
preset) and the command line. With no --tfrecord_dir the corpus named by --corpus (default: the
embedded synthetic corpus) is prepared first into tfrecords/, cached for later runs. The run
directory gets flags.txt, checkpoints (a rerun resumes), TensorBoard summaries, results.json
and a SavedModel export. Errors in flags or data end with "error: ..." and exit status 1
(--verbosity=1 shows the traceback).

`--fold=all` runs every fold (one per session) into <run_dir>/fold<k>/ and writes
<run_dir>/summary.json and summary.md (mean ± std over folds; `mmtl_tf.experiments`). A finished
fold is skipped and an interrupted one resumes; `--rerun` recomputes. The Table 3 sweep over
--aux combinations is `python -m mmtl_tf.sweep`, which takes these same flags.
"""

import datetime
import os
import re

from absl import app
from absl import flags
from absl import logging

from mmtl_tf import audio, cli_flags, corpora, episodes, experiments, preparation, run_dir as run_dir_lib
from mmtl_tf import summaries, training
from mmtl_tf import config as config_lib
from mmtl_tf import corpora as corpora_lib

cli_flags.define_feature_flags()
cli_flags.define_corpus_flags()
_DEFAULT_TRAIN = config_lib.TrainConfig()
_DEFAULT_MODEL = config_lib.ModelConfig()
_define = cli_flags.define_once
_define(flags.DEFINE_string, "tfrecord_dir", None,
        "Prepared shards + manifest.json. Default: prepare --corpus into tfrecords/ first.")
_define(flags.DEFINE_string, "run_dir", None,
        "Output directory; default runs/<corpus>-fold<f>-<aux>-<model>-<timestamp>. A rerun resumes.")
_define(flags.DEFINE_string, "fold", "2",
        "Held-out session 1..N (N = sessions in the manifest), its speakers validate/test; or "
        "all: every fold into <run_dir>/fold<k>/ plus summary.json/summary.md.")
_define(flags.DEFINE_boolean, "rerun", False,
        "Recompute finished folds (default: a fold with results.json and the same settings is "
        "skipped; an interrupted one resumes from its checkpoints).")
_define(flags.DEFINE_string, "val_speaker", "F",
        "F or M: the held-out session's speaker ending in that letter validates; or a speaker id.")
_define(flags.DEFINE_string, "aux", "vad",
        "Auxiliary tasks: a non-empty subset of the letters v, a, d. Ignored by --model=cnn_lstm, "
        "which has none (its results and run_dir record aux as -).")
_define(flags.DEFINE_enum, "model", _DEFAULT_TRAIN.model, list(config_lib.MODELS),
        "mmtl, or a Table 2 baseline: mtl (CNN-LSTM+MTL), cnn_lstm.")
_define(flags.DEFINE_enum, "outer_update", _DEFAULT_TRAIN.outer_update, list(config_lib.OUTER_UPDATES),
        "first_order (Eq. 6-7), reptile, or reference (the authors' schedule). See BUILD.md.")
_define(flags.DEFINE_float, "meta_learning_rate", _DEFAULT_TRAIN.meta_learning_rate, "alpha (Eq. 4).")
_define(flags.DEFINE_float, "transfer_learning_rate", _DEFAULT_TRAIN.transfer_learning_rate, "beta (Eq. 5).")
_define(flags.DEFINE_float, "outer_learning_rate", _DEFAULT_TRAIN.outer_learning_rate,
        "gamma (Eq. 6-7, meta-test fine-tuning, baselines' Adam).")
_define(flags.DEFINE_float, "reptile_inner_learning_rate", _DEFAULT_TRAIN.reptile_inner_learning_rate,
        "--outer_update=reptile: SGD step on L^Q from (theta'_i, phi'_i).")
_define(flags.DEFINE_float, "reptile_step_size", _DEFAULT_TRAIN.reptile_step_size,
        "--outer_update=reptile: interpolation epsilon.")
_define(flags.DEFINE_integer, "segments_per_speaker", _DEFAULT_TRAIN.segments_per_speaker,
        "B: segments per speaker in an episode.")
_define(flags.DEFINE_integer, "speakers_per_episode", _DEFAULT_TRAIN.speakers_per_episode,
        "m: speakers per episode; 0 = every training speaker.")
_define(flags.DEFINE_integer, "epochs", _DEFAULT_TRAIN.epochs,
        "Passes over the largest training speaker; the run length when --train_steps=0.")
_define(flags.DEFINE_integer, "train_steps", _DEFAULT_TRAIN.train_steps,
        "Outer steps to train (any corpus size); 0 = --epochs passes over the largest speaker.")
_define(flags.DEFINE_integer, "eval_every", _DEFAULT_TRAIN.eval_every,
        "Outer steps between validations (and checkpoints); 0 = once per epoch.")
_define(flags.DEFINE_integer, "selection_smoothing", _DEFAULT_TRAIN.selection_smoothing,
        "Keep the checkpoint with the best mean validation UA over this many evaluations.")
_define(flags.DEFINE_integer, "patience", _DEFAULT_TRAIN.patience,
        "Stop after this many validations without a better smoothed UA; 0 = never.")
_define(flags.DEFINE_integer, "test_adapt_steps", _DEFAULT_TRAIN.test_adapt_steps,
        "Meta-test fine-tuning steps on the target speaker's auxiliary tasks.")
_define(flags.DEFINE_enum, "test_adapt_optimizer", _DEFAULT_TRAIN.test_adapt_optimizer, ["sgd", "adam"],
        "Meta-test fine-tuning steps: sgd (Eq. 4's inner step) or adam.")
_define(flags.DEFINE_float, "test_adapt_learning_rate", _DEFAULT_TRAIN.test_adapt_learning_rate,
        "Meta-test step size; 0 = alpha (--meta_learning_rate) for sgd, gamma for adam.")
_define(flags.DEFINE_integer, "seed", _DEFAULT_TRAIN.seed, "Seed of initialisation and sampling.")
_define(flags.DEFINE_boolean, "jit_compile", _DEFAULT_TRAIN.jit_compile, "Compile the outer step with XLA.")
_define(flags.DEFINE_list, "conv_filters", [str(f) for f in _DEFAULT_MODEL.conv_filters],
        "Filters of each conv layer (Table 1: 16,24,32).")
_define(flags.DEFINE_list, "conv_kernels", ["x".join(map(str, k)) for k in _DEFAULT_MODEL.conv_kernels],
        "TIMExFREQ kernel of each conv layer (Table 1: 12x16,8x12,5x7).")
_define(flags.DEFINE_integer, "lstm_units", _DEFAULT_MODEL.lstm_units, "BiLSTM units per direction.")
_define(flags.DEFINE_integer, "fc_units", _DEFAULT_MODEL.fc_units, "FC_1 width.")
_define(flags.DEFINE_string, "preset", "paper", "Preset name recorded in results (set by flagfiles).")
_define(flags.DEFINE_boolean, "skip_nonfinite", False, "Skip NaN/inf outer steps instead of stopping.")
_define(flags.DEFINE_enum, "strategy", "default", ["default", "mirrored", "multi_worker"],
        "tf.distribute strategy: speakers of each episode are split over replicas (BUILD.md).")
_define(flags.DEFINE_integer, "num_cpu_devices", 0,
        "With --strategy=mirrored and no GPU: replicate over this many logical CPU devices.")
_define(flags.DEFINE_boolean, "mixed_precision", False,
        "bfloat16 compute with float32 weights on GPU/TPU (refused on a CPU-only machine).")
_define(flags.DEFINE_boolean, "export", True, "Export a SavedModel into <run_dir>/export at the end.")
FLAGS = flags.FLAGS


def parse_aux(letters: str) -> tuple:
    """Turns --aux letters into task names in V, A, D order.

    Raises:
      app.UsageError: empty, unknown or repeated letters.
    """
    letters = letters.strip().lower()
    if not letters:
        raise app.UsageError("--aux is empty: give a non-empty subset of v, a, d (e.g. --aux=va)")
    unknown = sorted(set(letters) - set(corpora_lib.AUX_LETTERS))
    if unknown:
        raise app.UsageError(f"--aux={letters}: unknown letter(s) {', '.join(unknown)}; use v, a, d")
    if len(set(letters)) != len(letters):
        raise app.UsageError(f"--aux={letters} repeats a letter; each of v, a, d at most once")
    return tuple(task for task in corpora_lib.AUX_TASKS if task[0] in letters)


def _validate_aux(value) -> bool:
    try:
        parse_aux(value)
    except app.UsageError as error:
        raise flags.ValidationError(str(error)) from None
    return True


def _validate_fold(value) -> bool:
    text = str(value).strip().lower()
    if text != "all" and not (text.isdigit() and int(text) >= 1):
        raise flags.ValidationError(
            "give a session number 1..N (N = sessions of the corpus) or all")
    return True


flags.register_validator("aux", _validate_aux)
flags.register_validator("fold", _validate_fold)


def model_config_from_flags(feature_config, flag_values=FLAGS) -> config_lib.ModelConfig:
    """ModelConfig from --conv_filters, --conv_kernels, --lstm_units, --fc_units."""
    try:
        kernels = tuple(tuple(int(x) for x in k.lower().split("x"))
                        for k in flag_values.conv_kernels)
        if any(len(k) != 2 for k in kernels):
            raise ValueError("each kernel is TIMExFREQ")
        return config_lib.ModelConfig(
            conv_filters=tuple(int(f) for f in flag_values.conv_filters), conv_kernels=kernels,
            lstm_units=flag_values.lstm_units, fc_units=flag_values.fc_units,
            num_frames=feature_config.max_frames, num_bins=feature_config.num_bins)
    except ValueError as error:
        raise app.UsageError(f"--conv_filters/--conv_kernels/--lstm_units/--fc_units: {error}") from None


def train_config_from_flags() -> config_lib.TrainConfig:
    """TrainConfig from the training flags (UsageError naming the flag when invalid)."""
    aux = parse_aux(FLAGS.aux) if FLAGS.model != "cnn_lstm" else ()  # cnn_lstm ignores --aux
    try:
        return config_lib.TrainConfig(
            model=FLAGS.model, aux_tasks=aux, outer_update=FLAGS.outer_update,
            meta_learning_rate=FLAGS.meta_learning_rate,
            transfer_learning_rate=FLAGS.transfer_learning_rate,
            outer_learning_rate=FLAGS.outer_learning_rate,
            reptile_inner_learning_rate=FLAGS.reptile_inner_learning_rate,
            reptile_step_size=FLAGS.reptile_step_size,
            segments_per_speaker=FLAGS.segments_per_speaker,
            speakers_per_episode=FLAGS.speakers_per_episode, epochs=FLAGS.epochs,
            train_steps=FLAGS.train_steps, eval_every=FLAGS.eval_every,
            selection_smoothing=FLAGS.selection_smoothing, patience=FLAGS.patience,
            test_adapt_steps=FLAGS.test_adapt_steps, test_adapt_optimizer=FLAGS.test_adapt_optimizer,
            test_adapt_learning_rate=FLAGS.test_adapt_learning_rate,
            seed=FLAGS.seed, jit_compile=FLAGS.jit_compile)
    except ValueError as error:
        raise app.UsageError(str(error)) from None


def ensure_prepared(feature_config) -> str:
    """Returns --tfrecord_dir, preparing --corpus into tfrecords/ first when it is not given."""
    if FLAGS.tfrecord_dir:
        return FLAGS.tfrecord_dir
    cli_flags.resolve_corpus_flags(FLAGS)
    directory = cli_flags.default_tfrecord_dir(FLAGS)
    print(f"no --tfrecord_dir: preparing --corpus={FLAGS.corpus} into {directory} "
          f"(cached; finished speakers are skipped)")
    listing = cli_flags.read_corpus_from_flags(FLAGS)
    preparation.prepare_corpus(listing, feature_config, directory, show_progress=True)
    return directory


def experiment_from_flags(tfrecord_dir, feature_config, train_config, model_config, corpus,
                          name=None):
    """The ExperimentConfig for this run; picks the default run_dir (`name` replaces fold-aux)."""
    run_dir = FLAGS.run_dir
    if not run_dir:
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        safe_corpus = re.sub(r"[^A-Za-z0-9_.-]+", "_", corpus)
        aux = "".join(t[0] for t in train_config.aux_tasks) or "-"
        name = name or f"fold{FLAGS.fold.strip().lower()}-{aux}"
        run_dir = os.path.join("runs", f"{safe_corpus}-{name}-{train_config.model}-{stamp}")
    fold = FLAGS.fold.strip()
    return config_lib.ExperimentConfig(
        features=feature_config, model=model_config, train=train_config, tfrecord_dir=tfrecord_dir,
        run_dir=run_dir, fold=int(fold) if fold.isdigit() else 1,  # "all": set per fold
        val_speaker=FLAGS.val_speaker,
        preset=FLAGS.preset, skip_nonfinite=FLAGS.skip_nonfinite, export=FLAGS.export,
        strategy=FLAGS.strategy, num_cpu_devices=FLAGS.num_cpu_devices)


def setup_from_flags(name=None):
    """Flags -> configs -> prepared data -> (experiment, manifest, folds); writes flags.txt.

    Args:
      name: replaces `fold<f>-<aux>` in the default run_dir name (the sweep passes "sweep").

    Raises:
      app.UsageError: a flag does not fit the data, e.g. --fold beyond the corpus' sessions.
    """
    import tensorflow as tf  # after flag parsing, so --help stays fast

    from mmtl_tf import distribution
    if FLAGS.strategy == "mirrored":
        distribution.configure_cpu_devices(FLAGS.num_cpu_devices)  # before any TF op runs
    if FLAGS.mixed_precision:
        distribution.enable_mixed_precision()
    tf.config.experimental.enable_op_determinism()
    feature_config = cli_flags.feature_config_from_flags(FLAGS)
    train_config = train_config_from_flags()
    model_config = model_config_from_flags(feature_config)
    tfrecord_dir = ensure_prepared(feature_config)
    from mmtl_tf import tfrecords
    manifest = tfrecords.load_manifest(tfrecord_dir, feature_config)
    try:
        folds = experiments.resolve_folds(FLAGS.fold, manifest)
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    experiment = experiment_from_flags(tfrecord_dir, feature_config, train_config, model_config,
                                       manifest["corpus"], name)
    experiments.check_folds(experiment, folds)
    os.makedirs(experiment.run_dir, exist_ok=True)
    flags_path = os.path.join(experiment.run_dir, "flags.txt")
    with open(f"{flags_path}.tmp", "w", encoding="utf-8") as handle:
        handle.write(FLAGS.flags_into_string())
    os.replace(f"{flags_path}.tmp", flags_path)
    print(f"run directory: {experiment.run_dir}  ({summaries.corpus_label(manifest['corpus'])})")
    return experiment, manifest, folds


def run() -> dict:
    """Flags -> configs -> one fold's `experiments.run_fold` (train, evaluate, export), or every fold's."""
    experiment, _, folds = setup_from_flags()
    if FLAGS.fold.strip().lower() == "all":
        return experiments.run_folds(experiment, folds, rerun=FLAGS.rerun)
    return experiments.run_fold(experiment, rerun=FLAGS.rerun)


CLEAN_ERRORS = (corpora.CorpusError, audio.AudioError, ValueError, FileNotFoundError,
                run_dir_lib.RunDirError, training.NonFiniteLossError, episodes.DamagedShardError)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    if FLAGS.verbosity < 1:
        logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines drown the progress
    cli_flags.run_reporting_errors(run, CLEAN_ERRORS)


if __name__ == "__main__":
    app.run(main)

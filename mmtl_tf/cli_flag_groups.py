"""Every command-line flag of mmtl_tf, by group (the sections of `--help`), with its range check.

A `FlagSpec` is one flag; `GROUPS` maps a group key to its `--help` title and flags. Each range
check (`flag_checks`) is an absl validator run at parse time, so the error names the flag.
`cli_flags` says which groups each entry point takes and defines them; relations between flags
are `flag_configs`' checks.

Adding a flag is one `FlagSpec` line in its group; a training or feature flag named like a
`TrainConfig`/`FeatureConfig` field reaches the config with no other change.
"""

import dataclasses
from typing import Callable, Optional

from absl import flags

from mmtl_tf import config as config_lib
from mmtl_tf import flag_checks as checks
from mmtl_tf import flag_configs
from mmtl_tf import labels
from mmtl_tf import presets
from mmtl_tf import reporting

_FEATURES, _MODEL = config_lib.FeatureConfig(), config_lib.ModelConfig()
_TRAIN = config_lib.TrainConfig()


# -- the flags, by group -------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class FlagSpec:
    """One flag: its absl `define` function, name, default, help, value check, enum values."""

    define: Callable
    name: str
    default: object
    help: str
    check: Optional[Callable] = None
    enum_values: tuple = ()


_S = FlagSpec
_OVERWRITE = _S(flags.DEFINE_boolean, "overwrite", False, "Replace instead of refusing: "
                "prepare, a preparation made with other feature settings, corpus or classes "
                "(kept until the new one is complete); export, an existing version directory.")
_RUN_DIR = _S(flags.DEFINE_string, "run_dir", None,
              "Run directory. main/sweep write it (default runs/<corpus>-fold<f>-<aux>-<model>-"
              "<time>, the sweep's runs/<corpus>-sweep-<model>-<time>; a rerun resumes it); "
              "export reads it (required there).", checks.non_empty)
GROUPS = {
    "preset": ("Preset", (
        _S(flags.DEFINE_string, "preset", "paper", f"Loads flags/<preset>.cfg "
           f"({', '.join(presets.available_presets())}) before every other flag; recorded in the "
           "results.", checks.preset),)),
    "run": ("Run", (
        _RUN_DIR,
        _S(flags.DEFINE_string, "fold", "2", "Held-out session 1..N (N = sessions of the corpus), "
           "its speakers validate/test; or all: every fold into <run_dir>/fold<k>/ and a "
           "summary; or a list of folds (1,2,4), run as all is.", checks.fold),
        _S(flags.DEFINE_string, "val_speaker", "F", "F or M: the held-out session's speaker "
           "ending in that letter validates (its other speakers are tested; where none does, "
           "the first in sorted order); or a speaker id (one fold's only).",
           checks.non_empty),
        _S(flags.DEFINE_boolean, "rerun", False, "Recompute finished folds (otherwise they are "
           "skipped, and an interrupted one resumes from its checkpoints)."),
        _S(flags.DEFINE_boolean, "export", True, "Export a SavedModel into <run_dir>/export."),
        _S(flags.DEFINE_boolean, "skip_nonfinite", False,
           "Skip NaN/inf outer steps instead of stopping."))),
    "data": ("Prepared data", (
        _S(flags.DEFINE_string, "tfrecord_dir", None, "Shards + manifest.json. prepare writes it; "
           "main reads it (default: prepare --corpus into tfrecords/ first).", checks.non_empty),)),
    "training": ("Training (paper section 2, Eq. 4-7)", (
        _S(flags.DEFINE_enum, "model", _TRAIN.model, "mmtl, or a Table 2 baseline: mtl "
           "(CNN-LSTM+MTL), cnn_lstm.", enum_values=config_lib.MODELS),
        _S(flags.DEFINE_string, "aux", "vad", "Auxiliary tasks: a non-empty subset of v, a, d "
           "(ignored by --model=cnn_lstm).", checks.aux_letters),
        _S(flags.DEFINE_enum, "outer_update", _TRAIN.outer_update, "first_order (Eq. 6-7), "
           "reptile, or reference (the authors' schedule).", enum_values=config_lib.OUTER_UPDATES),
        _S(flags.DEFINE_float, "meta_learning_rate", _TRAIN.meta_learning_rate, "alpha (Eq. 4).",
           checks.above_zero),
        _S(flags.DEFINE_float, "transfer_learning_rate", _TRAIN.transfer_learning_rate,
           "beta (Eq. 5).", checks.above_zero),
        _S(flags.DEFINE_float, "outer_learning_rate", _TRAIN.outer_learning_rate,
           "gamma (Eq. 6-7, meta-test fine-tuning, the baselines' Adam).", checks.above_zero),
        _S(flags.DEFINE_float, "reptile_inner_learning_rate", _TRAIN.reptile_inner_learning_rate,
           "--outer_update=reptile: SGD step on L^Q from (theta'_i, phi'_i).", checks.above_zero),
        _S(flags.DEFINE_float, "reptile_step_size", _TRAIN.reptile_step_size,
           "--outer_update=reptile: interpolation epsilon.", checks.above_zero),
        _S(flags.DEFINE_integer, "segments_per_speaker", _TRAIN.segments_per_speaker,
           "B: segments per speaker in an episode.", checks.at_least(1)),
        _S(flags.DEFINE_integer, "speakers_per_episode", _TRAIN.speakers_per_episode,
           "m: speakers per episode; 0 = every training speaker.", checks.at_least(0)),
        _S(flags.DEFINE_integer, "epochs", _TRAIN.epochs, "Passes over the largest training "
           "speaker; the run length when --train_steps=0.", checks.at_least(0)),
        _S(flags.DEFINE_integer, "train_steps", _TRAIN.train_steps, "Outer steps to train (any "
           "corpus size); 0 = --epochs passes over the largest speaker.", checks.at_least(0)),
        _S(flags.DEFINE_integer, "eval_every", _TRAIN.eval_every, "Outer steps between "
           "validations (and checkpoints); 0 = once per epoch.", checks.at_least(0)),
        _S(flags.DEFINE_integer, "selection_smoothing", _TRAIN.selection_smoothing, "Keep the "
           "checkpoint with the best mean validation UA over this many evaluations.",
           checks.at_least(1)),
        _S(flags.DEFINE_integer, "patience", _TRAIN.patience, "Stop after this many validations "
           "without a better smoothed UA; 0 = never.", checks.at_least(0)),
        _S(flags.DEFINE_integer, "test_adapt_steps", _TRAIN.test_adapt_steps,
           "Meta-test fine-tuning steps on the target speaker's auxiliary tasks.",
           checks.at_least(0)),
        _S(flags.DEFINE_enum, "test_adapt_optimizer", _TRAIN.test_adapt_optimizer,
           "Meta-test fine-tuning steps: sgd (Eq. 4's inner step) or adam.",
           enum_values=("sgd", "adam")),
        _S(flags.DEFINE_float, "test_adapt_learning_rate", _TRAIN.test_adapt_learning_rate,
           "Meta-test step size; 0 = alpha (--meta_learning_rate) for sgd, gamma for adam.",
           checks.at_least(0)),
        _S(flags.DEFINE_integer, "seed", _TRAIN.seed, "Seed of initialisation and sampling.",
           checks.at_least(0)),
        _S(flags.DEFINE_boolean, "jit_compile", _TRAIN.jit_compile,
           "Compile the outer step with XLA: refused by main and sweep, whose op "
           "determinism XLA's MaxPool gradient lacks (the benchmarks measure XLA)."),
        _S(flags.DEFINE_integer, "parallel_speakers", _TRAIN.parallel_speakers, "MMTL: speakers "
           "whose passes may run at once; 1 = a lower peak memory, slower on CPUs for small "
           "models.",
           checks.at_least(1)),
        _S(flags.DEFINE_integer, "parallel_episode_reads", _TRAIN.parallel_episode_reads,
           "Episodes the input pipeline reads at once; 0 = tuned by tf.data (the memory held "
           "between steps then varies with timing).", checks.at_least(0)))),
    "model": ("Network (Table 1)", (
        _S(flags.DEFINE_list, "conv_filters", [str(f) for f in _MODEL.conv_filters],
           "Filters of each conv layer (Table 1: 16,24,32).", checks.positive_integers),
        _S(flags.DEFINE_list, "conv_kernels", ["x".join(map(str, k)) for k in _MODEL.conv_kernels],
           "TIMExFREQ kernel of each conv layer (Table 1: 12x16,8x12,5x7).", checks.kernel_pairs),
        _S(flags.DEFINE_integer, "lstm_units", _MODEL.lstm_units, "BiLSTM units per direction.",
           checks.at_least(1)),
        _S(flags.DEFINE_integer, "fc_units", _MODEL.fc_units, "FC_1 width.", checks.at_least(1)))),
    "features": ("Spectrogram features (paper section 3.1.1)", (
        _S(flags.DEFINE_integer, "sample_rate", _FEATURES.sample_rate,
           "Hz every waveform is converted to.", checks.between(4000, 192000)),
        _S(flags.DEFINE_float, "segment_seconds", _FEATURES.segment_seconds, "Maximum segment "
           "duration; utterances are split into equal segments.", checks.above_zero),
        _S(flags.DEFINE_float, "window_ms", _FEATURES.window_ms, "Hamming window length (the "
           "authors' code: 40 ms; the paper's text: 200 ms).", checks.above_zero),
        _S(flags.DEFINE_float, "hop_ms", _FEATURES.hop_ms, "Frame shift.", checks.above_zero),
        _S(flags.DEFINE_integer, "fft_length", _FEATURES.fft_length, "DFT length.",
           checks.at_least(2)),
        _S(flags.DEFINE_integer, "num_bins", _FEATURES.num_bins, "Lowest DFT bins kept (200 = "
           "0-4 kHz at 16 kHz with a DFT of 800).", checks.at_least(1)),
        _S(flags.DEFINE_integer, "max_frames", _FEATURES.max_frames,
           "Time frames after zero padding.", checks.at_least(1)))),
    "corpus": ("Corpus", (
        _S(flags.DEFINE_enum, "corpus", "synthetic", "Corpus to read: the IEMOCAP release, the "
           "embedded synthetic corpus (generated on first use), the RAVDESS release "
           "(--corpus_dir), or a CSV file (--csv).", enum_values=flag_configs.CORPORA),
        _S(flags.DEFINE_string, "corpus_dir", None, "IEMOCAP: the release root holding Session1.."
           "Session5. RAVDESS: the folder holding Actor_01..Actor_24. Synthetic: where it is "
           f"generated (default {flag_configs.SYNTHETIC_ROOT}/corpus-u<N>-seed<S>).",
           checks.non_empty),
        _S(flags.DEFINE_string, "csv", None, "The CSV manifest for --corpus=csv (columns in "
           "mmtl_tf/corpora/csv_manifest.py).", checks.non_empty),
        _S(flags.DEFINE_enum, "scripts", "improvised", "IEMOCAP dialogs to use (the paper: "
           "improvised).", enum_values=("improvised", "scripted", "all")),
        _S(flags.DEFINE_boolean, "merge_excited", False, "Label IEMOCAP's exc as hap (off in the "
           "paper)."),
        _S(flags.DEFINE_boolean, "merge_calm", False, "RAVDESS: label calm as neutral (off: calm "
           "is its own emotion)."),
        _S(flags.DEFINE_list, "ravdess_intensity_bins", [str(b) for b in
                                                          flag_configs.RAVDESS_INTENSITY_BINS],
           "RAVDESS: arousal bins (0..3) of normal,strong intensity, the one dimensional label "
           "RAVDESS has (the paper's bins: [3,4) -> 2, [4,6) -> 3).", checks.two_bins),
        _S(flags.DEFINE_list, "csv_vad_bin_edges", [f"{e:g}" for e in labels.PAPER_VAD_BIN_EDGES],
           "CSV: V/A/D bin edges, 1 to 3 increasing numbers (a score on an edge goes to the upper "
           "bin); the default is the paper's bins of IEMOCAP's 1-5 scale.", checks.finite_numbers),
        _S(flags.DEFINE_list, "csv_vad_score_range",
           [f"{e:g}" for e in labels.PAPER_VAD_SCORE_RANGE], "CSV: low,high, the open range every "
           "V/A/D score must lie in (a cell outside it is an error naming its row).",
           checks.finite_numbers),
        _S(flags.DEFINE_list, "csv_missing_vad", [], "CSV: cell texts that mark a missing "
           "V/A/D rating (case-insensitive; an empty entry, as the trailing comma of `NA,`, "
           "accepts an empty cell); such an utterance keeps its emotion and has no label for "
           "that task. Default: none, every cell must hold a score."),
        _S(flags.DEFINE_list, "csv_columns", [], "CSV: name=column entries for columns the CSV "
           "names otherwise, e.g. arousal=activation,utterance_id=utt_id (case-insensitive)."),
        _S(flags.DEFINE_list, "csv_emotion_map", [], "CSV: label=class entries giving the "
           "corpus' own emotion labels a class of --classes, e.g. excited=happy,W=angry "
           "(case-insensitive; IEMOCAP's short names neu, hap, ang need none). Rows whose label "
           "is no class are excluded and counted."),
        _S(flags.DEFINE_string, "csv_name", None, "CSV: names the corpus csv:<name> in the manifest, "
           "results and reports, and the default --tfrecord_dir tfrecords/<name> (default: the "
           "corpus is csv:<CSV file name>, the "
           "same for every corpus whose CSV is metadata.csv, so their runs would share a report "
           "row); letters, digits, '_', '.', ':' and '-'.", checks.non_empty),
        _S(flags.DEFINE_list, "classes", None, "Emotion classes in label order; default neu,hap,"
           "sad,ang (iemocap, synthetic) or neutral,happy,sad,angry (csv, ravdess).",
           checks.class_names),
        _S(flags.DEFINE_boolean, "skip_missing", False, "Count and list missing wavs instead of "
           "failing."),
        _S(flags.DEFINE_integer, "synthetic_utterances_per_speaker", 48,
           "Improvised utterances per speaker of the synthetic corpus.", checks.at_least(1)),
        _S(flags.DEFINE_integer, "synthetic_seed", 0, "Seed of the synthetic corpus.",
           checks.at_least(0)))),
    "preparation": ("Preparation", (
        _S(flags.DEFINE_integer, "segments_per_shard", 2000, "Maximum segments per TFRecord "
           "shard; speakers with fewer share shards.", checks.at_least(1)),
        _S(flags.DEFINE_boolean, "progress", True, "Show a progress bar."),
        _OVERWRITE)),
    "devices": ("Devices", (
        _S(flags.DEFINE_enum, "strategy", "default", "tf.distribute strategy: speakers of each "
           "episode are split over replicas.", enum_values=("default", "mirrored", "multi_worker")),
        _S(flags.DEFINE_integer, "num_cpu_devices", 0, "With --strategy=mirrored and no GPU: "
           "replicate over this many logical CPU devices.", checks.at_least(0)),
        _S(flags.DEFINE_boolean, "mixed_precision", False, "bfloat16 compute with float32 "
           "weights on GPU/TPU (refused on a CPU-only machine)."))),
    "sweep": ("Sweep (Table 3)", (
        _S(flags.DEFINE_list, "aux_combinations", list(reporting.AUX_ORDER), "Auxiliary-task "
           "combinations to run, in order (Table 3: v,a,d,vd,ad,va,vad). The sweep ignores --aux.",
           checks.aux_combinations),)),
    "export": ("Export", (
        _RUN_DIR,
        _S(flags.DEFINE_string, "export_dir", None, "Model base path TF Serving watches; default "
           "<run_dir>/export.", checks.non_empty),
        _S(flags.DEFINE_integer, "version", None, "Version directory to write (>= 1: TF Serving "
           "loads 1, 2, ...); default one more than the highest existing.", checks.at_least(1)),
        _OVERWRITE)),
    "predict": ("Prediction", (
        _S(flags.DEFINE_string, "model_dir", None, "An export version directory, or an export "
           "directory of numbered versions (the highest is used). Required.", checks.non_empty),
        _S(flags.DEFINE_boolean, "json", False, "Print JSON instead of a table."),
        _S(flags.DEFINE_integer, "batch_size", 16, "Files per serving call.", checks.at_least(1)))),
    "ablation": ("Adaptation ablation", (
        _S(flags.DEFINE_list, "steps", ["0", "1", "5", "10"], "Adaptation step counts to "
           "compare.", checks.counts),
        _S(flags.DEFINE_list, "optimizers", ["sgd", "adam"], "sgd (step size alpha, Eq. 4's inner "
           "step) and/or adam (step size gamma).", checks.optimizers),
        _S(flags.DEFINE_boolean, "with_test", False, "Also score the test speakers (reported "
           "apart; not for choosing a setting)."),
        _S(flags.DEFINE_string, "output", "ablation", "Output path without extension (.json and "
           ".md).", checks.non_empty))),
    "report": ("Report", (
        _S(flags.DEFINE_string, "output_dir", None, "Where the tables and PNGs go; default: a "
           "new reports/<date>-<time>/ in the current directory.", checks.non_empty),)),
}

"""absl flag definitions shared by the command-line tools (only CLI modules import this).

Each CLI calls the `define_*` functions it needs at import time, then turns the parsed flags
into library arguments with `feature_config_from_flags` and `read_corpus_from_flags`. A flag is
defined once per `FlagValues` even when several CLI modules are imported into one process (as
the tests do), so the definitions must agree; `define_once` makes a repeat a no-op.
"""

import os
import sys

from absl import app
from absl import flags

from mmtl_tf import config as config_lib

CORPORA = ("iemocap", "synthetic", "csv", "ravdess")
SYNTHETIC_ROOT = "tfrecords/synthetic"
DEFAULT_CLASSES = {"iemocap": "neu,hap,sad,ang", "synthetic": "neu,hap,sad,ang",
                   "csv": "neutral,happy,sad,angry", "ravdess": "neutral,happy,sad,angry"}

_FEATURE_DEFAULTS = config_lib.FeatureConfig()
_FEATURE_FLAGS = ("sample_rate", "segment_seconds", "window_ms", "hop_ms", "fft_length",
                  "num_bins", "max_frames")


def define_once(define, name: str, *args, flag_values=flags.FLAGS, **kwargs) -> None:
    """Calls `define(name, *args, flag_values=..., **kwargs)` unless `name` is already defined."""
    if name not in flag_values:
        define(name, *args, flag_values=flag_values, **kwargs)


def define_feature_flags(flag_values=flags.FLAGS) -> None:
    """Defines the spectrogram flags (paper section 3.1.1); defaults are `FeatureConfig`'s."""
    defaults = _FEATURE_DEFAULTS
    define_once(flags.DEFINE_integer, "sample_rate", defaults.sample_rate,
                "Hz every waveform is converted to.", flag_values=flag_values)
    define_once(flags.DEFINE_float, "segment_seconds", defaults.segment_seconds,
                "Maximum segment duration; utterances are split into equal segments.",
                flag_values=flag_values)
    define_once(flags.DEFINE_float, "window_ms", defaults.window_ms,
                "Hamming window length (the authors' code: 40 ms; the paper's text: 200 ms).",
                flag_values=flag_values)
    define_once(flags.DEFINE_float, "hop_ms", defaults.hop_ms, "Frame shift.",
                flag_values=flag_values)
    define_once(flags.DEFINE_integer, "fft_length", defaults.fft_length, "DFT length.",
                flag_values=flag_values)
    define_once(flags.DEFINE_integer, "num_bins", defaults.num_bins,
                "Lowest DFT bins kept (200 = 0-4 kHz at 16 kHz with a DFT of 800).",
                flag_values=flag_values)
    define_once(flags.DEFINE_integer, "max_frames", defaults.max_frames,
                "Time frames after zero padding.", flag_values=flag_values)


def feature_config_from_flags(flag_values=flags.FLAGS) -> config_lib.FeatureConfig:
    """Builds the `FeatureConfig` the feature flags describe.

    Raises:
      app.UsageError: the flags give an impossible analysis (the message names the flag).
    """
    try:
        return config_lib.FeatureConfig(
            **{name: flag_values[name].value for name in _FEATURE_FLAGS})
    except ValueError as error:
        raise app.UsageError(f"feature flags: {error}") from None


def define_corpus_flags(flag_values=flags.FLAGS) -> None:
    """Defines the flags that choose and read a corpus."""
    define_once(flags.DEFINE_enum, "corpus", "synthetic", list(CORPORA),
                "Corpus to read: the IEMOCAP release, the embedded synthetic corpus (generated "
                "on first use), the RAVDESS release (--corpus_dir), or any corpus described by "
                "a CSV file (--csv).",
                flag_values=flag_values)
    define_once(flags.DEFINE_string, "corpus_dir", None,
                "IEMOCAP: the release root holding Session1..Session5. RAVDESS: the folder "
                "holding Actor_01..Actor_24. Synthetic: where the "
                f"corpus is generated (default {SYNTHETIC_ROOT}/corpus-u<N>-seed<S>).",
                flag_values=flag_values)
    define_once(flags.DEFINE_string, "csv", None,
                "The CSV manifest for --corpus=csv (columns in mmtl_tf/corpora/csv_manifest.py).",
                flag_values=flag_values)
    define_once(flags.DEFINE_enum, "scripts", "improvised", ["improvised", "scripted", "all"],
                "IEMOCAP dialogs to use (the paper: improvised).", flag_values=flag_values)
    define_once(flags.DEFINE_boolean, "merge_excited", False,
                "Label IEMOCAP's exc as hap (off in the paper).", flag_values=flag_values)
    define_once(flags.DEFINE_boolean, "merge_calm", False,
                "RAVDESS: label calm as neutral (off: calm is its own emotion).",
                flag_values=flag_values)
    define_once(flags.DEFINE_list, "ravdess_intensity_bins", ["2", "3"],
                "RAVDESS: arousal bins (0..3) of normal,strong intensity, the one dimensional "
                "label RAVDESS has (the paper's bins: [3,4) -> 2, [4,6) -> 3).",
                flag_values=flag_values)
    define_once(flags.DEFINE_list, "classes", None,
                "Emotion classes in label order; default neu,hap,sad,ang (iemocap, synthetic) or "
                "neutral,happy,sad,angry (csv, ravdess).", flag_values=flag_values)
    define_once(flags.DEFINE_boolean, "skip_missing", False,
                "Count and list missing wavs instead of failing.", flag_values=flag_values)
    define_once(flags.DEFINE_integer, "synthetic_utterances_per_speaker", 48,
                "Improvised utterances per speaker of the synthetic corpus.",
                flag_values=flag_values)
    define_once(flags.DEFINE_integer, "synthetic_seed", 0, "Seed of the synthetic corpus.",
                flag_values=flag_values)


def resolve_corpus_flags(flag_values=flags.FLAGS) -> None:
    """Fills the corpus-dependent defaults (--classes, --corpus_dir) and checks the combination.

    Raises:
      app.UsageError: naming the flag, e.g. --corpus=csv without --csv.
    """
    corpus = flag_values["corpus"].value
    if corpus == "csv" and not flag_values["csv"].value:
        raise app.UsageError("--corpus=csv needs --csv=<path of the CSV manifest>")
    if corpus != "csv" and flag_values["csv"].value:
        raise app.UsageError(f"--csv is only read with --corpus=csv (got --corpus={corpus})")
    if corpus == "iemocap" and not flag_values["corpus_dir"].value:
        raise app.UsageError("--corpus=iemocap needs --corpus_dir=<IEMOCAP release root, the "
                             "folder holding Session1..Session5>")
    if corpus == "ravdess" and not flag_values["corpus_dir"].value:
        raise app.UsageError("--corpus=ravdess needs --corpus_dir=<the folder holding "
                             "Actor_01..Actor_24>")
    if corpus != "ravdess" and (flag_values["merge_calm"].value
                                or flag_values["ravdess_intensity_bins"].value != ["2", "3"]):
        raise app.UsageError("--merge_calm and --ravdess_intensity_bins apply only to "
                             "--corpus=ravdess")
    if corpus == "csv" and flag_values["corpus_dir"].value:
        raise app.UsageError("--corpus_dir is not read with --corpus=csv (paths in the CSV are "
                             "relative to the CSV's folder)")
    if corpus != "iemocap" and flag_values["scripts"].value != "improvised":
        raise app.UsageError(f"--scripts applies only to --corpus=iemocap (got --corpus={corpus})")
    if corpus in ("csv", "ravdess") and flag_values["merge_excited"].value:
        raise app.UsageError("--merge_excited applies only to --corpus=iemocap or synthetic")
    if corpus == "synthetic" and not flag_values["corpus_dir"].value:
        flag_values["corpus_dir"].value = f"{SYNTHETIC_ROOT}/corpus-{_synthetic_tag(flag_values)}"
    if not flag_values["classes"].value:
        flag_values["classes"].value = DEFAULT_CLASSES[corpus].split(",")
    if any(not name.strip() for name in flag_values["classes"].value):
        raise app.UsageError(f"--classes has an empty name: {flag_values['classes'].value}")


def read_corpus_from_flags(flag_values=flags.FLAGS):
    """Reads the corpus the flags name (see `resolve_corpus_flags`).

    Returns:
      The reader's `CorpusListing`.

    Raises:
      app.UsageError: a bad flag combination, naming the flag.
      corpora.CorpusError, ValueError: from the reader, naming the file.
    """
    resolve_corpus_flags(flag_values)
    corpus = flag_values["corpus"].value
    class_names = tuple(name.strip() for name in flag_values["classes"].value)
    if corpus == "iemocap":
        from mmtl_tf.corpora import iemocap  # pylint: disable=import-outside-toplevel
        return iemocap.read_iemocap(
            flag_values["corpus_dir"].value, scripts=flag_values["scripts"].value,
            class_names=class_names, merge_excited=flag_values["merge_excited"].value,
            skip_missing=flag_values["skip_missing"].value)
    if corpus == "synthetic":
        from mmtl_tf.corpora import synthetic  # pylint: disable=import-outside-toplevel
        return synthetic.read_synthetic(
            flag_values["corpus_dir"].value,
            utterances_per_speaker=flag_values["synthetic_utterances_per_speaker"].value,
            seed=flag_values["synthetic_seed"].value, class_names=class_names,
            merge_excited=flag_values["merge_excited"].value)
    if corpus == "ravdess":
        from mmtl_tf.corpora import ravdess  # pylint: disable=import-outside-toplevel
        try:
            bins = tuple(int(b) for b in flag_values["ravdess_intensity_bins"].value)
        except ValueError:
            raise app.UsageError("--ravdess_intensity_bins takes two integers, e.g. 2,3") from None
        return ravdess.read_ravdess(flag_values["corpus_dir"].value, class_names=class_names,
                                    merge_calm=flag_values["merge_calm"].value,
                                    intensity_bins=bins)
    from mmtl_tf.corpora import csv_manifest  # pylint: disable=import-outside-toplevel
    return csv_manifest.read_csv_manifest(flag_values["csv"].value, class_names=class_names,
                                          skip_missing=flag_values["skip_missing"].value)


def _synthetic_tag(flag_values) -> str:
    return (f"u{flag_values['synthetic_utterances_per_speaker'].value}"
            f"-seed{flag_values['synthetic_seed'].value}")


def default_tfrecord_dir(flag_values=flags.FLAGS) -> str:
    """Where prepare writes and main looks when --tfrecord_dir is not given.

    tfrecords/synthetic/shards-u<N>-seed<S> for the synthetic corpus (so corpora of other sizes
    never share a directory), tfrecords/iemocap, or tfrecords/<CSV file stem>.
    """
    corpus = flag_values["corpus"].value
    if corpus == "synthetic":
        return f"{SYNTHETIC_ROOT}/shards-{_synthetic_tag(flag_values)}"
    if corpus == "csv":
        stem = os.path.splitext(os.path.basename(flag_values["csv"].value or "csv"))[0]
        return os.path.join("tfrecords", stem)
    return os.path.join("tfrecords", corpus)


def run_reporting_errors(function, errors, flag_values=flags.FLAGS):
    """Runs `function()`; an error of the `errors` types becomes one `error: ...` line and exit 1.

    The message names the file, line or flag (the library raises it that way); the traceback is
    shown only with --verbosity=1 or more. Returns what `function` returns.
    """
    try:
        return function()
    except errors as error:
        if flag_values["verbosity"].value >= 1:
            raise
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)

"""From parsed flags to the frozen records the library takes (the flags are in `cli_flag_groups`).

Every builder takes a parsed `FlagValues` and returns a frozen record, raising `app.UsageError`
with the flags named when they do not fit together; none writes a flag value back. A flag
named like a `FeatureConfig` or `TrainConfig` field reaches the config with no code here.
"""

import dataclasses
import os
import re
from typing import Optional

from absl import app
from absl import flags

from mmtl_tf import config as config_lib
from mmtl_tf import labels
from mmtl_tf.corpora import csv_columns, csv_labels, ravdess

FLAGS = flags.FLAGS
CORPORA = ("iemocap", "synthetic", "csv", "ravdess")
DEFAULT_CLASSES = {"iemocap": "neu,hap,sad,ang", "synthetic": "neu,hap,sad,ang",
                   "csv": "neutral,happy,sad,angry", "ravdess": "neutral,happy,sad,angry"}
SYNTHETIC_ROOT = "tfrecords/synthetic"
RAVDESS_INTENSITY_BINS = ravdess.DEFAULT_INTENSITY_BINS


def _values(flag_values, names) -> dict:
    return {name: flag_values[name].value for name in names}


def feature_config_from_flags(flag_values=FLAGS) -> config_lib.FeatureConfig:
    """The `FeatureConfig` the feature flags describe.

    Raises:
      app.UsageError: the flags give an impossible analysis (the message names the flags).
    """
    names = [field.name for field in dataclasses.fields(config_lib.FeatureConfig)
             if field.name in flag_values]
    try:
        return config_lib.FeatureConfig(**_values(flag_values, names))
    except ValueError as error:
        raise app.UsageError(str(error)) from None


def model_config_from_flags(flag_values=FLAGS, feature_config=None) -> config_lib.ModelConfig:
    """The `ModelConfig` of --conv_filters, --conv_kernels, --lstm_units, --fc_units.

    Args:
      flag_values: parsed flags.
      feature_config: gives the input shape; default `feature_config_from_flags(flag_values)`.

    Raises:
      app.UsageError: naming the flags.
    """
    feature_config = feature_config or feature_config_from_flags(flag_values)
    try:
        return config_lib.ModelConfig(
            conv_filters=tuple(int(f) for f in flag_values["conv_filters"].value),
            conv_kernels=tuple(tuple(int(x) for x in k.lower().split("x"))
                               for k in flag_values["conv_kernels"].value),
            lstm_units=flag_values["lstm_units"].value, fc_units=flag_values["fc_units"].value,
            num_frames=feature_config.max_frames, num_bins=feature_config.num_bins)
    except ValueError as error:
        raise app.UsageError(str(error)) from None


def aux_tasks_from_flags(flag_values=FLAGS) -> tuple:
    """The auxiliary tasks of --aux, in V, A, D order; none for --model=cnn_lstm (it has none).

    Raises:
      app.UsageError: naming --aux.
    """
    if flag_values["model"].value == "cnn_lstm":
        return ()
    try:
        return labels.aux_tasks_from_letters(flag_values["aux"].value)
    except ValueError as error:
        raise app.UsageError(f"--aux={flag_values['aux'].value}: {error}") from None


def train_config_from_flags(flag_values=FLAGS) -> config_lib.TrainConfig:
    """The `TrainConfig` of the training flags: every field that has a flag of its name, and
    aux_tasks from --aux.

    Raises:
      app.UsageError: naming the flag.
    """
    names = [field.name for field in dataclasses.fields(config_lib.TrainConfig)
             if field.name in flag_values and field.name != "aux_tasks"]
    try:
        return config_lib.TrainConfig(aux_tasks=aux_tasks_from_flags(flag_values),
                                      **_values(flag_values, names))
    except ValueError as error:
        raise app.UsageError(str(error)) from None


@dataclasses.dataclass(frozen=True)
class CorpusChoice:
    """The corpus the corpus flags name, with the corpus-dependent defaults filled in.

    Attributes:
      corpus: one of `CORPORA`.
      class_names: emotion classes in label order (--classes, or the corpus' default).
      corpus_dir: IEMOCAP release root or synthetic corpus folder; None for csv.
      csv: the CSV manifest (csv only).
      scripts, merge_excited, skip_missing: the reader options of those flags.
      synthetic_utterances_per_speaker, synthetic_seed: the synthetic corpus' size and seed.
      merge_calm, ravdess_intensity_bins: RAVDESS's calm label and intensity -> arousal bins.
      csv_vad_bin_edges, csv_vad_score_range: how a CSV corpus' V/A/D scores are binned.
      csv_missing_vad: the CSV cell texts that mark a missing V/A/D rating.
      csv_columns: ((column the reader reads, the CSV's name for it), ...) of --csv_columns.
      csv_emotion_map: ((the corpus' label, class name), ...) of --csv_emotion_map.
      csv_name: --csv_name: the CSV corpus is csv:<csv_name> (None: csv:<CSV file name>).
    """

    corpus: str
    class_names: tuple
    corpus_dir: Optional[str]
    csv: Optional[str]
    scripts: str
    merge_excited: bool
    skip_missing: bool
    synthetic_utterances_per_speaker: int
    synthetic_seed: int
    merge_calm: bool
    ravdess_intensity_bins: tuple
    csv_vad_bin_edges: tuple
    csv_vad_score_range: tuple
    csv_missing_vad: tuple = ()
    csv_columns: tuple = ()
    csv_emotion_map: tuple = ()
    csv_name: Optional[str] = None

    def synthetic_tag(self) -> str:
        """u<N>-seed<S>: names the synthetic corpus' folders, so sizes never share one."""
        return f"u{self.synthetic_utterances_per_speaker}-seed{self.synthetic_seed}"


_CORPUS_FLAGS = ("csv", "scripts", "merge_excited", "skip_missing",
                 "synthetic_utterances_per_speaker", "synthetic_seed", "merge_calm", "csv_name")
_CORPUS_RULES = (  # (applies, message naming the flag) for --corpus=c and flag values v
    (lambda c, v: c == "csv" and not v["csv"], "--corpus=csv needs --csv=<path of the CSV file>"),
    (lambda c, v: c != "csv" and v["csv"], "--csv is only read with --corpus=csv (got "
     "--corpus={corpus})"),
    (lambda c, v: c == "iemocap" and not v["corpus_dir"], "--corpus=iemocap needs --corpus_dir="
     "<IEMOCAP release root, the folder holding Session1..Session5>"),
    (lambda c, v: c == "ravdess" and not v["corpus_dir"], "--corpus=ravdess needs --corpus_dir="
     "<the folder holding Actor_01..Actor_24>"),
    (lambda c, v: c != "ravdess" and (v["merge_calm"] or v["ravdess_intensity_bins"]
                                      != RAVDESS_INTENSITY_BINS),
     "--merge_calm and --ravdess_intensity_bins apply only to --corpus=ravdess (got "
     "--corpus={corpus})"),
    (lambda c, v: c != "csv" and (v["csv_vad_bin_edges"] != labels.PAPER_VAD_BIN_EDGES
                                  or v["csv_vad_score_range"] != labels.PAPER_VAD_SCORE_RANGE),
     "--csv_vad_bin_edges and --csv_vad_score_range apply only to --corpus=csv (got "
     "--corpus={corpus})"),
    (lambda c, v: c != "csv" and v["csv_missing_vad"],
     "--csv_missing_vad applies only to --corpus=csv (got --corpus={corpus})"),
    (lambda c, v: c != "csv" and v["csv_columns"],
     "--csv_columns applies only to --corpus=csv (got --corpus={corpus})"),
    (lambda c, v: c != "csv" and v["csv_emotion_map"],
     "--csv_emotion_map applies only to --corpus=csv (got --corpus={corpus})"),
    (lambda c, v: c != "csv" and v["csv_name"],
     "--csv_name applies only to --corpus=csv (got --corpus={corpus})"),
    (lambda c, v: v["csv_name"] and not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.:-]*",
                                                     v["csv_name"]),
     "--csv_name: use letters, digits, '_', '.', ':' and '-' (it names a folder), starting "
     "with a letter, digit or '_'"),
    (lambda c, v: c == "csv" and v["binning"],
     "--csv_vad_bin_edges / --csv_vad_score_range: {binning}"),
    (lambda c, v: c == "csv" and v["corpus_dir"], "--corpus_dir is not read with --corpus=csv "
     "(paths in the CSV are relative to the CSV's folder)"),
    (lambda c, v: c != "iemocap" and v["scripts"] != "improvised",
     "--scripts applies only to --corpus=iemocap (got --corpus={corpus})"),
    (lambda c, v: c == "csv" and v["merge_excited"],
     "--merge_excited applies only to --corpus=iemocap or synthetic; a CSV corpus maps its "
     "label with --csv_emotion_map=excited=happy (or exc=hap, as the CSV spells it)"),
    (lambda c, v: c == "ravdess" and v["merge_excited"],
     "--merge_excited applies only to --corpus=iemocap or synthetic (got --corpus={corpus})"),
)


def corpus_choice_from_flags(flag_values=FLAGS) -> CorpusChoice:
    """Checks the corpus flags together and fills the corpus-dependent defaults.

    Raises:
      app.UsageError: naming the flag, e.g. --corpus=csv without --csv.
    """
    corpus = flag_values["corpus"].value
    values = _values(flag_values, _CORPUS_FLAGS + ("corpus_dir",))
    values["ravdess_intensity_bins"] = tuple(
        int(b) for b in flag_values["ravdess_intensity_bins"].value)  # checked at parse time
    for name in ("csv_vad_bin_edges", "csv_vad_score_range"):  # numbers: checked at parse time
        values[name] = tuple(float(value) for value in flag_values[name].value)
    values["csv_missing_vad"] = tuple(flag_values["csv_missing_vad"].value or ())
    try:
        values["csv_columns"] = tuple(csv_columns.parse_column_map(
            flag_values["csv_columns"].value or ()).items())
        values["csv_emotion_map"] = tuple(csv_labels.parse_emotion_map(
            flag_values["csv_emotion_map"].value or ()).items())
    except ValueError as error:
        raise app.UsageError(str(error)) from None
    binning = labels.vad_binning_problem(values["csv_vad_bin_edges"],
                                         values["csv_vad_score_range"])
    for applies, message in _CORPUS_RULES:
        if applies(corpus, {**values, "binning": binning}):
            raise app.UsageError(message.format(corpus=corpus, binning=binning))
    classes = flag_values["classes"].value or DEFAULT_CLASSES[corpus].split(",")
    choice = CorpusChoice(corpus=corpus, class_names=tuple(name.strip() for name in classes),
                          corpus_dir=values.pop("corpus_dir"), **values)
    if choice.csv_emotion_map:  # a label mapped to no class: refused before any reading
        try:
            csv_labels.label_lookup(choice.class_names, dict(choice.csv_emotion_map))
        except ValueError as error:
            raise app.UsageError(str(error)) from None
    if corpus == "synthetic" and not choice.corpus_dir:
        choice = dataclasses.replace(
            choice, corpus_dir=f"{SYNTHETIC_ROOT}/corpus-{choice.synthetic_tag()}")
    return choice


def read_corpus(choice: CorpusChoice):
    """Reads the chosen corpus with its reader and prints its notes (a CSV's columns not read);
    returns the reader's `CorpusListing`.

    Raises:
      corpora.CorpusError, audio.AudioError, OSError: from the reader, naming the file.
    """
    listing = _read_listing(choice)
    for note in listing.notes:
        print(note)
    return listing


def _read_listing(choice: CorpusChoice):
    """The chosen corpus' `CorpusListing`, from its reader."""
    # pylint: disable=import-outside-toplevel (each reader loads only what it needs)
    if choice.corpus == "iemocap":
        from mmtl_tf.corpora import iemocap
        return iemocap.read_iemocap(choice.corpus_dir, scripts=choice.scripts,
                                    class_names=choice.class_names,
                                    merge_excited=choice.merge_excited,
                                    skip_missing=choice.skip_missing)
    if choice.corpus == "synthetic":
        from mmtl_tf.corpora import synthetic
        return synthetic.read_synthetic(
            choice.corpus_dir, utterances_per_speaker=choice.synthetic_utterances_per_speaker,
            seed=choice.synthetic_seed, class_names=choice.class_names,
            merge_excited=choice.merge_excited)
    if choice.corpus == "ravdess":
        return ravdess.read_ravdess(choice.corpus_dir, class_names=choice.class_names,
                                    merge_calm=choice.merge_calm,
                                    intensity_bins=choice.ravdess_intensity_bins)
    from mmtl_tf.corpora import csv_manifest
    return csv_manifest.read_csv_manifest(choice.csv, class_names=choice.class_names,
                                          skip_missing=choice.skip_missing,
                                          vad_bin_edges=choice.csv_vad_bin_edges,
                                          vad_score_range=choice.csv_vad_score_range,
                                          missing_vad=choice.csv_missing_vad,
                                          column_map=dict(choice.csv_columns),
                                          emotion_map=dict(choice.csv_emotion_map),
                                          corpus_name=choice.csv_name and f"csv:{choice.csv_name}")


def default_tfrecord_dir(choice: CorpusChoice) -> str:
    """Where prepare writes and main looks when --tfrecord_dir is not given: tfrecords/synthetic/
    shards-u<N>-seed<S>, tfrecords/<--csv_name> or tfrecords/<CSV file stem>, or
    tfrecords/<corpus> (iemocap, ravdess)."""
    if choice.corpus == "synthetic":
        return f"{SYNTHETIC_ROOT}/shards-{choice.synthetic_tag()}"
    if choice.corpus == "csv" and choice.csv_name:
        return os.path.join("tfrecords", choice.csv_name)
    if choice.corpus == "csv":
        return os.path.join("tfrecords", os.path.splitext(os.path.basename(choice.csv))[0])
    return os.path.join("tfrecords", choice.corpus)


def corpus_source(choice: CorpusChoice) -> str:
    """What the corpus is read from, made absolute: the --csv file or the --corpus_dir (the
    manifest records it, so two CSV files of one name are not taken for one corpus)."""
    return os.path.abspath(choice.csv or choice.corpus_dir)


def experiment_config_from_flags(flag_values, tfrecord_dir: str, run_dir: str,
                                 fold: int) -> config_lib.ExperimentConfig:
    """The `ExperimentConfig` of the flags: the three configs above, the given data, run
    directory and fold, and every other field that has a flag of its name (--preset, --export,
    --val_speaker, ...).

    Raises:
      app.UsageError: naming the flag.
    """
    features = feature_config_from_flags(flag_values)
    built = {"features": features, "model": model_config_from_flags(flag_values, features),
             "train": train_config_from_flags(flag_values), "tfrecord_dir": tfrecord_dir,
             "run_dir": run_dir, "fold": fold}
    named = [field.name for field in dataclasses.fields(config_lib.ExperimentConfig)
             if field.name not in built and field.name in flag_values]
    return config_lib.ExperimentConfig(**built, **_values(flag_values, named))

"""The corpus flags that decide labels, recorded with a preparation and checked against it.

Which emotion or V/A/D bin an utterance gets depends on flags beside the audio: --merge_excited,
--scripts (which IEMOCAP dialogs are utterances at all), --merge_calm and
--ravdess_intensity_bins, --csv_vad_bin_edges, --csv_missing_vad, --csv_columns and
--csv_emotion_map (`LABEL_FLAGS`). `labelling` gives prepare their values for the manifest, so
preparing an existing --tfrecord_dir with others is refused (`preparation.prepare_corpus`)
instead of re-labelling it; `check_prepared_labels` refuses such a flag given to main with a
--tfrecord_dir prepared otherwise, which main would otherwise ignore.
"""

import os

from absl import app

from mmtl_tf.corpora import csv_columns, csv_labels

# The corpus flags that decide the labels (or, for --scripts, which dialogs are utterances) a
# corpus' reader gives the same audio, by corpus; --classes is compared as the class names.
LABEL_FLAGS = {"iemocap": ("scripts", "merge_excited"), "synthetic": ("merge_excited",),
               "ravdess": ("merge_calm", "ravdess_intensity_bins"),
               "csv": ("csv_vad_bin_edges", "csv_missing_vad", "csv_columns", "csv_emotion_map")}
# Label flags added after preparations were made: a manifest without one was prepared with its
# default, so `labelling` records it only when it is not the default, and a recorded labelling
# without it compares as the default.
LATER_FLAGS = {"csv_emotion_map": []}


def _label_value(name: str, value):
    """A label flag's value in the form a manifest records it (JSON, order that means nothing
    sorted away): edges and bins as numbers, missing marks and column maps lower-cased."""
    if name == "ravdess_intensity_bins":
        return [int(item) for item in value]
    if name == "csv_vad_bin_edges":
        return [float(item) for item in value]
    if name == "csv_missing_vad":
        return sorted({str(item).strip().lower() for item in value or ()})
    if name == "csv_columns":
        mapping = value if isinstance(value, dict) else csv_columns.parse_column_map(value or ())
        return sorted([key, column.lower()] for key, column in mapping.items())
    if name == "csv_emotion_map":
        mapping = value if isinstance(value, dict) else csv_labels.parse_emotion_map(value or ())
        return sorted([label, emotion.lower()] for label, emotion in mapping.items())
    return value


def labelling(choice) -> dict:
    """{flag name: value} of the label flags of a `flag_configs.CorpusChoice`'s corpus
    (`LABEL_FLAGS`), recorded in the manifest by prepare, so a preparation is never re-labelled
    without --overwrite."""
    values = {"csv_columns": dict(choice.csv_columns),
              "csv_emotion_map": dict(choice.csv_emotion_map)}
    recorded = {name: _label_value(name, values.get(name, getattr(choice, name)))
                for name in LABEL_FLAGS[choice.corpus]}
    return {name: value for name, value in recorded.items()
            if name not in LATER_FLAGS or value != LATER_FLAGS[name]}


def check_prepared_labels(flag_values, manifest: dict, tfrecord_dir: str) -> None:
    """Refuses corpus flags given to main with --tfrecord_dir that the prepared data contradicts
    (--corpus, --csv/--corpus_dir, --classes, the label flags; a label flag of another corpus):
    main reads the data as prepared, so such a flag would be silently ignored.

    Raises:
      app.UsageError: naming the flag, its value and the prepared one, and what to do.
    """
    todo = (f"drop the flag, or prepare the data with it (`python -m mmtl_tf.prepare` into "
            f"another --tfrecord_dir, or --overwrite)")
    family = manifest["corpus"].split(":", 1)[0]  # a CSV corpus is named csv:<file name>
    given = {name for name in ("corpus", "classes", *LABEL_FLAGS.get(family, ()))
             if flag_values[name].present}
    if "corpus" in given and flag_values["corpus"].value != family:
        raise app.UsageError(f"--corpus={flag_values['corpus'].value}, but {tfrecord_dir} holds "
                             f"the {manifest['corpus']} corpus; {todo}")
    for name in ("csv", "corpus_dir"):
        value = flag_values[name].value
        if (flag_values[name].present and value and manifest.get("source")
                and os.path.abspath(value) != manifest["source"]):
            raise app.UsageError(f"--{name}={value}, but {tfrecord_dir} was prepared from "
                                 f"{manifest['source']}; {todo}")
    classes = flag_values["classes"].value
    if "classes" in given and [name.strip() for name in classes] != manifest["class_names"]:
        raise app.UsageError(f"--classes={','.join(classes)}, but {tfrecord_dir} was prepared "
                             f"with classes {','.join(manifest['class_names'])}; {todo}")
    for name in sorted({flag for names in LABEL_FLAGS.values() for flag in names}
                       - set(LABEL_FLAGS.get(family, ()))):
        if flag_values[name].present and flag_values[name].value != flag_values[name].default:
            raise app.UsageError(f"--{name} does not apply to the {manifest['corpus']} corpus "
                                 f"{tfrecord_dir} holds; drop it")
    recorded = manifest.get("labelling") or {}
    if recorded:  # a label flag it does not record was at its default (`LATER_FLAGS`)
        recorded = {**{name: value for name, value in LATER_FLAGS.items()
                       if name in LABEL_FLAGS.get(family, ())}, **recorded}
    for name in sorted(given & set(recorded)):
        value = _label_value(name, flag_values[name].value)
        if value != recorded[name]:
            raise app.UsageError(f"--{name}={_flag_text(value)}, but {tfrecord_dir} was prepared "
                                 f"with --{name}={_flag_text(recorded[name])}; {todo}")


def _flag_text(value) -> str:
    """A recorded label value as its flag is written: false, 2,3,4, arousal=activation."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join("=".join(item) if isinstance(item, list) else
                        (f"{item:g}" if isinstance(item, float) else str(item)) for item in value)
    return str(value)

"""Which runs a report may pool into one row, and how it names the rows it must keep apart.

A row of a report averages folds (and seeds) of one configuration, so every run pooled into a
row must share every setting that decides a fold's results (`run_dir.RESULT_SETTINGS`, as a
finished fold is recognised) except the ones a row averages over: the seed and the fold. The
validation speaker is a setting as chosen: by letter (`--val_speaker=F` or `M`, the same for
every fold), or by id, which names a speaker of one fold: runs choosing it by id are pooled with
each other over folds (`val_speaker=by id`), not with runs choosing it by letter.

`run_settings` reads those settings from a run's config.json; runs of one (corpus, preset,
model, aux) whose settings differ become separate rows (`describe_variants`), each label naming
its values of the settings that differ (e.g. `MMTL (outer_update=reptile, train_steps=40)`),
rather than a mean and a standard error over runs of different experiments. A run whose
settings differ from its named preset's (`preset_overrides`, with the presets' settings given by
the command, see `preset_settings`) keeps the preset's name with a `*` (`paper*`), and the
table says which settings were overridden, so it is never read as that preset's run.
A results.json without config.json beside it (written by hand, or copied alone) has
unrecorded settings: such runs are pooled only with each other, as before config.json existed.
"""

import hashlib
import json
import os

from mmtl_tf import run_dir
from mmtl_tf.results_file import ReportError

POOLED = ("train.seed", "fold")  # what a row averages over
ROW_IDENTITY = ("train.model", "train.aux_tasks", "preset")  # the row's method, aux and preset
DERIVED = ("model.num_frames", "model.num_bins")  # features.max_frames and features.num_bins
NOT_PRESET = ("tfrecord_dir",)  # the data a run read, never a preset's setting
UNRECORDED = ""  # the settings id of a run without config.json
BY_ID = "by id"  # a validation speaker named by id: each fold names its own


def run_settings(record: dict) -> dict:
    """The flat result-deciding settings of a config.json record, less the seed, the fold, and
    what the row already names (model, aux tasks, preset): {"train.outer_update": ..., ...}."""
    experiment = record.get("experiment") or {}
    flat = run_dir.flatten_record({key: experiment[key] for key in run_dir.RESULT_SETTINGS
                                   if key in experiment})
    if "val_speaker" in flat:
        letter = str(flat["val_speaker"]).upper()
        flat["val_speaker"] = letter if letter in ("F", "M") else BY_ID
    return {key: value for key, value in flat.items()
            if key not in POOLED + ROW_IDENTITY + DERIVED}


def read_settings(results_path: str):
    """The `run_settings` of the config.json beside `results_path`, or None without one.

    Raises:
      ReportError: config.json is unreadable or not a run's record (naming the file).
    """
    directory = os.path.dirname(results_path)
    if not os.path.isfile(os.path.join(directory, run_dir.CONFIG_NAME)):
        return None
    try:
        record = run_dir.read_record(directory)
    except run_dir.RunDirError as error:
        raise ReportError(f"{error}; fix or delete it (the report then pools this run only with "
                          f"other runs without config.json)") from None
    if not isinstance(record, dict) or not isinstance(record.get("experiment"), dict):
        raise ReportError(f"{os.path.join(directory, run_dir.CONFIG_NAME)}: no experiment "
                          f"settings in it; restore the run's config.json or delete it")
    return run_settings(record)


def settings_id(settings) -> str:
    """A text that is equal for equal settings (UNRECORDED for None): part of a row's key."""
    return UNRECORDED if settings is None else json.dumps(settings, sort_keys=True)


def setting_name(key: str) -> str:
    """`train.outer_update` -> `outer_update`: the flag that sets it."""
    return key.rsplit(".", 1)[-1]


def format_value(value) -> str:
    """A setting as its flag spells it: [16, 24, 32] -> 16,24,32; [[12, 16], ...] -> 12x16,..."""
    if isinstance(value, list):
        return ",".join("x".join(map(str, item)) if isinstance(item, list) else str(item)
                        for item in value)
    if isinstance(value, bool):
        return str(value).lower()
    return "unrecorded" if value is None else str(value)


def preset_overrides(settings, defaults) -> list:
    """The settings a run changed from its preset's: [(key, run's value, preset's value)].

    Only settings both record are compared (a field a version added or removed is not an
    override); the data directory is never the preset's. [] when either is None (a run without
    config.json, or a preset this checkout does not define, such as "custom").
    """
    if settings is None or defaults is None:
        return []
    return [(key, settings[key], defaults[key]) for key in sorted(set(settings) & set(defaults))
            if key not in NOT_PRESET and settings[key] != defaults[key]]


def describe_overrides(preset: str, overrides) -> str:
    """`train_steps=1 (paper: 0), outer_update=reptile (paper: first_order)`."""
    return ", ".join(f"{setting_name(key)}={format_value(value)} "
                     f"({preset}: {format_value(default)})" for key, value, default in overrides)


def _label(settings, keys) -> str:
    if settings is None:
        return " (settings not recorded: no config.json)"
    if not keys:  # beside runs without config.json
        return " (settings from config.json)"
    return " (" + ", ".join(f"{setting_name(key)}={format_value(settings.get(key))}"
                            for key in keys) + ")"


def describe_variants(groups: dict, preset_defaults=None) -> dict:
    """How each row of `reporting.group`'s groups is named.

    Args:
      groups: {(corpus, preset, model, aux, settings id): results (with "settings")}.
      preset_defaults: {preset name: `run_settings` of that preset's flags}; presets not in it
        are never marked modified.

    Returns:
      {key: {"suffix": "" or " (name=value, ...)" naming the settings that differ between the
      rows of one (corpus, preset, model, aux), "preset": "paper" or "paper*", "overrides":
      [(key, value, preset's value)], "file_tag": "" or "_<8 hex digits>" to keep the confusion
      PNGs of those rows apart}}.
    """
    siblings = {}
    for key, items in groups.items():
        siblings.setdefault(key[:4], []).append(items[0].get("settings"))
    described = {}
    for key, items in groups.items():
        settings, preset = items[0].get("settings"), key[1]
        recorded = [other for other in siblings[key[:4]] if other is not None]
        differing = sorted(name for name in set().union(*recorded) if len(
            {json.dumps(other.get(name)) for other in recorded}) > 1) if recorded else []
        several = len(siblings[key[:4]]) > 1
        overrides = preset_overrides(settings, (preset_defaults or {}).get(preset))
        described[key] = {
            "suffix": _label(settings, differing) if several else "",
            "preset": preset + ("*" if overrides else ""), "overrides": overrides,
            "file_tag": ("_" + hashlib.sha1(key[4].encode()).hexdigest()[:8]) if several else ""}
    return described

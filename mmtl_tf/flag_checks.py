"""The range checks of the command-line flags (absl validators), one per kind of value.

Each returns True or raises `flags.ValidationError` with what is wrong; absl runs it at parse time
and names the flag, so a bad value is one `error: --flag=value: ...` line (`cli_app`). The flags
that use them are in `cli_flag_groups`; checks that relate several flags are `flag_configs`'.
"""

import math

from absl import flags

from mmtl_tf import labels
from mmtl_tf import presets


def check(condition, message: str) -> bool:
    """Raises flags.ValidationError(message) unless `condition`; True otherwise."""
    if not condition:
        raise flags.ValidationError(message)
    return True


def at_least(lowest):
    """A check that a number (or None) is >= `lowest`."""
    return lambda value: value is None or check(value >= lowest, f"must be >= {lowest}")


def above_zero(value) -> bool:
    """Checks that a number is > 0 (NaN fails too)."""
    return check(value > 0, "must be > 0")


def between(lowest, highest):
    """A check that a number lies in `lowest`..`highest`."""
    return lambda value: check(lowest <= value <= highest, f"must be in {lowest}..{highest}")


def positive_integers(values) -> bool:
    """Checks a non-empty list of positive integers (layer sizes)."""
    check(values, "give at least one layer")
    for value in values:
        check(value.strip().isdigit() and int(value) >= 1, f"{value!r} is not a positive integer")
    return True


def counts(values) -> bool:
    """Checks a non-empty list of integers >= 0."""
    check(values, "give at least one count")
    return check(all(value.strip().isdigit() for value in values),
                 "each count must be an integer >= 0")


def optimizers(values) -> bool:
    """Checks a list of sgd and/or adam."""
    return check(values and set(values) <= {"sgd", "adam"}, "give sgd and/or adam")


def kernel_pairs(values) -> bool:
    """Checks TIMExFREQ kernel sizes such as 12x16."""
    for value in values:
        parts = value.lower().split("x")
        check(len(parts) == 2 and all(p.strip().isdigit() and int(p) >= 1 for p in parts),
              f"{value!r} is not TIMExFREQ with two positive integers (e.g. 12x16)")
    return True


def aux_letters(letters) -> bool:
    """Checks auxiliary-task letters (`labels.aux_tasks_from_letters`)."""
    try:
        labels.aux_tasks_from_letters(letters)
    except ValueError as error:
        raise flags.ValidationError(str(error)) from None
    return True


def aux_combinations(values) -> bool:
    """Checks a list of distinct auxiliary-task letter combinations."""
    check(values, "name at least one combination, e.g. --aux_combinations=v,va")
    canonical = []
    for letters in values:
        try:
            canonical.append(labels.letters_of(labels.aux_tasks_from_letters(letters)))
        except ValueError as error:
            raise flags.ValidationError(f"combination {error}") from None
    return check(len(set(canonical)) == len(canonical), "names a combination twice")


def class_names(values) -> bool:
    """Checks emotion class names: none empty, at least two, none twice (None: the default)."""
    if values is None:
        return True
    names = [name.strip() for name in values]
    check(all(names), "has an empty class name")
    check(len(names) >= 2, "needs at least two classes (with one there is nothing to tell apart)")
    return check(len(set(names)) == len(names), "names a class twice")


def two_bins(values) -> bool:
    """Checks two arousal bins 0..3 (RAVDESS's normal and strong intensity)."""
    return check(len(values) == 2 and all(v.strip() in ("0", "1", "2", "3") for v in values),
                 "give the bins (0..3) of normal and strong intensity, e.g. 2,3")


def finite_numbers(values) -> bool:
    """Checks a non-empty list of finite numbers."""
    try:
        numbers = [float(value) for value in values]
    except ValueError:
        raise flags.ValidationError(f"{','.join(values)!r} is not a list of numbers") from None
    return check(numbers and all(math.isfinite(n) for n in numbers), "give finite numbers")


def fold(value) -> bool:
    """Checks a session number >= 1, a comma-separated list of them, or `all`."""
    text = str(value).strip().lower()
    return check(text == "all" or all(item.strip().isdigit() and int(item) >= 1
                                      for item in text.split(",")),
                 "give a session number 1..N (N = sessions of the corpus), a list of them "
                 "(1,3,4) or all")


def non_empty(value) -> bool:
    """Checks that a string (or None) is not blank."""
    return check(value is None or value.strip(), "is empty")


def preset(name) -> bool:
    """Checks that a preset of that name ships in flags/."""
    return check(name in presets.available_presets(), f"no such preset; choose one of "
                 f"{', '.join(presets.available_presets())} ({presets.presets_dir()})")

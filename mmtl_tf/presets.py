"""Flag presets: flags/<name>.cfg, loaded by `--preset=<name>` before every other flag.

The preset files live in the repository's flags/ folder; setup.py installs them into the package
as mmtl_tf/flags/, so `--preset=demo` works from an installed copy too (`presets_dir`).
`with_preset` is how `cli_app.parse` loads one: the preset is the base, and every flag given on
the command line or in another flagfile overrides it, wherever it stands. A command takes the
preset's flags it defines (`prepare --preset=ravdess` its feature flags), and `--flagfile` of a
preset's own file is that preset (`prepare --flagfile=flags/smoke.cfg` is `--preset=smoke`).
"""

import os

from absl import app
from absl import flags

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def presets_dir() -> str:
    """The folder of preset flagfiles: mmtl_tf/flags/ when installed (setup.py ships the
    repository's flags/ there), else flags/ beside the package in a source checkout."""
    installed = os.path.join(_PACKAGE_DIR, "flags")
    return installed if os.path.isdir(installed) else os.path.join(os.path.dirname(_PACKAGE_DIR),
                                                                   "flags")


def preset_path(name: str) -> str:
    """The flagfile of preset `name`.

    Raises:
      app.UsageError: no such preset (the message lists the presets).
    """
    path = os.path.join(presets_dir(), f"{name}.cfg")
    if os.sep in name or not os.path.isfile(path):
        raise app.UsageError(f"--preset={name}: no such preset; choose one of "
                             f"{', '.join(available_presets())} ({presets_dir()})")
    return path


def available_presets() -> tuple:
    """Names of the preset flagfiles (`flags/<name>.cfg`), sorted."""
    directory = presets_dir()
    return tuple(sorted(name[:-4] for name in os.listdir(directory) if name.endswith(".cfg")))


def with_preset(argv: list, flag_values=flags.FLAGS) -> list:
    """Puts the preset's flags that this command defines in front of every other flag, so the
    preset named is the one loaded and every other flag (command line or flagfile) overrides it.

    The preset is the one --preset names on the command line or in a flagfile (default: the
    flag's default, paper). Two different presets are refused, so a run's recorded preset is
    always the one whose flags it started from.

    Raises:
      app.UsageError: two presets, or an unknown one.
      flags.Error: a --flagfile that cannot be read.
    """
    expanded = flag_values.read_flags_from_files(
        [_as_preset(argument) for argument in argv[1:]], force_gnu=False)
    named = []
    for index, argument in enumerate(expanded):
        if argument.startswith(("--preset=", "-preset=")):
            named.append(argument.split("=", 1)[1])
        elif argument in ("--preset", "-preset") and index + 1 < len(expanded):
            named.append(expanded[index + 1])
    if len(set(named)) > 1:
        raise app.UsageError(f"--preset is given as {' and '.join(dict.fromkeys(named))} (on "
                             f"the command line or in a --flagfile): name one preset")
    name = named[0] if named else flag_values["preset"].default
    preset = flag_values.read_flags_from_files([f"--flagfile={preset_path(name)}"],
                                               force_gnu=False)
    # A command loads the preset's flags it has: `prepare --preset=ravdess` takes the feature
    # flags and leaves the network's and training's to `main`.
    return [argv[0], *(argument for argument in preset if _defines(flag_values, argument)),
            *expanded]


def _as_preset(argument: str) -> str:
    """`--preset=<name>` for a `--flagfile` naming a preset's file (flags/smoke.cfg), so every
    command takes the flags it has from it, as from --preset (`prepare --flagfile=flags/smoke.cfg`
    failed on the network's flags: "Unknown command line flag 'conv_filters'"); else `argument`."""
    for prefix in ("--flagfile=", "-flagfile="):
        if argument.startswith(prefix):
            path = os.path.realpath(argument[len(prefix):])
            for name in available_presets():
                if path == os.path.realpath(preset_path(name)):
                    return f"--preset={name}"
    return argument


def _defines(flag_values, argument: str) -> bool:
    """Whether `argument` (`--max_frames=200`, `--noexport`) sets a flag of `flag_values`."""
    name = argument.lstrip("-").split("=", 1)[0]
    return name in flag_values or (name.startswith("no") and name[2:] in flag_values)

"""The entry points' flag sets: which flag groups each command takes, defined once, and checked.

Only CLI modules import this. The flags themselves, in named groups with their ranges, are in
`cli_flag_groups`. A `Command` names the groups one entry point uses, and `define_command` defines
them into a `FlagValues` (once: several CLI modules can share a process, as the tests do), each
flag with its range check (an absl validator). The relations between flags (segment >= window,
bins <= fft_length/2+1, ...) are a command's `checks`, run right after parsing (`cli_app.parse`):
they are the builders of `flag_configs`, which turn parsed flags into the library's frozen records
and never write a flag back. `flags_text` writes a command's flags back out as a flagfile.
"""

import dataclasses

from absl import app
from absl import flags

from mmtl_tf import cli_flag_groups
from mmtl_tf import flag_configs

FLAGS = flags.FLAGS


@dataclasses.dataclass(frozen=True)
class Command:
    """One entry point: its module, flag groups, positional arguments and after-parse checks.

    Attributes:
      module: `python -m <module>`.
      groups: keys of `cli_flag_groups.GROUPS`, in `--help` order.
      arguments: what follows the flags (e.g. "WAV..."), or "" when none are taken.
      checks: functions of the parsed `FlagValues`, run right after parsing; each raises
        `app.UsageError` naming the flags when they do not fit together.
    """

    module: str
    groups: tuple
    arguments: str = ""
    checks: tuple = ()

    def flag_names(self) -> list:
        """The command's flags, group by group, each once."""
        names = [spec.name for group in self.groups for spec in cli_flag_groups.GROUPS[group][1]]
        return list(dict.fromkeys(names))


def define_once(define, name: str, *args, flag_values=FLAGS, **kwargs) -> bool:
    """Calls `define(name, *args, flag_values=..., **kwargs)` unless `name` exists.

    Returns:
      True when it defined the flag.
    """
    if name in flag_values:
        return False
    define(name, *args, flag_values=flag_values, **kwargs)
    return True


def define_command(command: Command, flag_values=FLAGS) -> Command:
    """Defines the flags of `command`'s groups (and their value checks) once; returns `command`."""
    for group in command.groups:
        for spec in cli_flag_groups.GROUPS[group][1]:
            extra = {"enum_values": list(spec.enum_values)} if spec.enum_values else {}
            if define_once(spec.define, spec.name, spec.default, help=spec.help,
                           flag_values=flag_values, **extra) and spec.check:
                flags.register_validator(spec.name, spec.check, flag_values=flag_values)
    return command


def check_command(command: Command, flag_values=FLAGS) -> None:
    """Runs the command's after-parse checks (relations between flags).

    Raises:
      app.UsageError: naming the flags.
    """
    for check in command.checks:
        check(flag_values)


def flags_text(command: Command, flag_values=FLAGS) -> str:
    """The command's own flags and values, one per line: a flagfile that reruns the command.

    Flags registered by other libraries in the same process (absl's and absltest's, which
    importing TensorFlow brings) are left out.
    """
    lines = [flag_values[name].serialize() for name in command.flag_names()
             if flag_values[name].value is not None]
    return "".join(f"{line}\n" for line in lines)


def _corpus_unless_prepared(flag_values) -> None:
    if not flag_values["tfrecord_dir"].value:  # main prepares the corpus first
        flag_configs.corpus_choice_from_flags(flag_values)


def _devices_fit(flag_values) -> None:
    """Device flags that could only be ignored or fail inside training are refused here."""
    if flag_values["jit_compile"].value:
        raise app.UsageError(
            "--jit_compile cannot compile the outer step here: main and sweep run with "
            "TensorFlow's op determinism (BUILD.md \"Reproducibility and resumption\") and XLA "
            "has no deterministic MaxPool gradient, on a CPU too; drop the flag "
            "(`python -m mmtl_tf.bench` measures XLA)")
    if flag_values["num_cpu_devices"].value > 1 and flag_values["strategy"].value != "mirrored":
        raise app.UsageError(f"--num_cpu_devices={flag_values['num_cpu_devices'].value} applies "
                             f"only with --strategy=mirrored (got --strategy="
                             f"{flag_values['strategy'].value}); add it or drop the flag")


def _sweep_has_aux(flag_values) -> None:
    if flag_values["model"].value == "cnn_lstm":
        raise app.UsageError("--model=cnn_lstm has no auxiliary tasks to sweep; use --model=mmtl "
                             "(Table 3) or --model=mtl")


# -- the entry points ---------------------------------------------------------------------------

PREPARE = Command("mmtl_tf.prepare", ("preset", "corpus", "features", "data", "preparation"),
                  checks=(flag_configs.feature_config_from_flags,
                          flag_configs.corpus_choice_from_flags))
MAIN = Command("mmtl_tf.main", ("preset", "run", "data", "training", "model", "features",
                                "corpus", "devices"),
               checks=(flag_configs.model_config_from_flags, flag_configs.train_config_from_flags,
                       _corpus_unless_prepared, _devices_fit))
SWEEP = Command("mmtl_tf.sweep", MAIN.groups + ("sweep",), checks=MAIN.checks + (_sweep_has_aux,))
EXPORT = Command("mmtl_tf.export", ("export",))
PREDICT = Command("mmtl_tf.predict", ("predict",), arguments="WAV...")
REPORT = Command("mmtl_tf.report", ("report",), arguments="RUN_DIR...")
ABLATION = Command("mmtl_tf.ablation", ("ablation",), arguments="RUN_DIR...")

"""Start-up and error handling shared by every entry point: `run(main, command)` replaces app.run.

1. Parsing (`parse`): the command's flags are defined (`cli_flags.define_command`); for commands
   with --preset, the preset's flagfile goes in front of every other flag (`presets`); absl
   parses and runs each flag's range check; then the command's relation checks run. All of it
   happens before any work, and a fault is one `error: --flag=value: what is wrong` line.
2. `--help` lists the command's own flags, by group (`help_text`; the groups are in
   `cli_flag_groups`); `--helpfull` stays absl's list of every flag in the process.
3. The guard (`guard`): a fault the user can fix (`app.UsageError`, a flag error, `OSError`,
   `ValueError` such as a JSON error, and any exception class defined in mmtl_tf) becomes one
   `error: <message>` line on stderr and exit status 1; an `OSError` names its path, the flag
   that led to it and what to do. `--verbosity=1` prints the traceback too. Anything else is a
   bug and keeps its traceback.
"""

import errno
import os
import re
import sys
import traceback

from absl import app
from absl import flags
from absl import logging

from mmtl_tf import cli_flag_groups
from mmtl_tf import cli_flags
from mmtl_tf import presets

FLAGS = flags.FLAGS
_LIST_VALUE = re.compile(r"^(--\w+=)\[(.*?)\]:")
_QUOTED = re.compile(r"'([^']*)'")
_OS_ADVICE = {
    errno.EACCES: "check its permissions or choose another {place}",
    errno.EPERM: "check its permissions or choose another {place}",
    errno.EROFS: "the file system is read-only: choose another {place}",
    errno.EEXIST: "a file is in the way: remove it or choose another {place}",
    errno.ENOTDIR: "a file is in the way of this directory: remove it or choose another {place}",
    errno.EISDIR: "it is a directory, a file was expected: choose another {place}",
    errno.ENOENT: "check the path",
    errno.ENOSPC: "free some disk space, or choose another {place}",
}


def help_text(command, flag_values=FLAGS, summary: str = "", groups=None) -> str:
    """The command's `--help`: a usage line, `summary`, then its flags group by group.

    `groups`, (title, flag names) pairs, replaces the command's groups (the bench's own flags).
    """
    lines = [f"usage: python -m {command.module} [flags] {command.arguments}".rstrip()]
    if summary:
        lines += ["", summary.strip()]
    if groups is None:
        groups = [(title, [spec.name for spec in specs])
                  for title, specs in (cli_flag_groups.GROUPS[group] for group in command.groups)]
    for title, names in groups:
        lines += ["", f"{title}:"]
        for name in names:
            flag = flag_values[name]
            name = f"[no]{flag.name}" if flag.boolean else flag.name
            default = f" (default: {flag.default_as_str})" if flag.default is not None else ""
            lines.append(flags.text_wrap(f"--{name}: {flag.help}{default}", indent="      ",
                                         firstline_indent="  "))
    lines += ["", "General:", "  --flagfile=FILE: read flags from FILE, one per line",
              "  --verbosity=1: show tracebacks and TensorFlow's log lines",
              "  --helpfull: every flag in the process, absl's and TensorFlow's included"]
    return "\n".join(lines)


class _CommandHelp(app.HelpFlag):
    """--help (-?): prints `help_text` and exits with status 0."""

    def __init__(self, text):
        super().__init__()
        self._text = text

    def parse(self, arg):
        if self._parse(arg):
            try:
                print(self._text(), flush=True)
            except BrokenPipeError:  # `--help | head`: the reader left; exit quietly
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(0)


class _CommandHelpShort(_CommandHelp):
    """--helpshort, absl's alias of --help."""

    NAME = "helpshort"
    SHORT_NAME = None


def install_help(text, flag_values=FLAGS) -> None:
    """Makes --help (and --helpshort) print `text()` and exit with status 0."""
    for help_class in (_CommandHelp, _CommandHelpShort):
        for name in (help_class.NAME, help_class.SHORT_NAME):
            if name and name in flag_values:
                delattr(flag_values, name)  # absl's own --help prints the module docstring
        flags.DEFINE_flag(help_class(text), flag_values=flag_values)


def describe_flag_error(error: flags.Error, command) -> str:
    """absl's message as `--flag=value: what is wrong`, one line per fault."""
    if isinstance(error, flags.CantOpenFlagFileError):
        reason = str(error).split("flagfile: ", 1)[-1]
        return f"--flagfile: cannot read it ({reason}); check the path"
    lines = []
    for line in str(error).splitlines():
        line = line.strip().removeprefix("flag ")
        # absl shows a list flag's value as a Python list: --classes=['a', 'b'] -> --classes=a,b
        line = _LIST_VALUE.sub(lambda m: f"{m.group(1)}{','.join(_QUOTED.findall(m.group(2)))}:",
                               line, count=1)
        if line.startswith("Unknown command line flag"):
            line += f" (python -m {command.module} --help lists its flags)"
        if line:
            lines.append(line)
    return "\n".join(lines)


def parse(argv: list, command, flag_values=FLAGS, summary: str = "") -> list:
    """Defines, parses and checks `command`'s flags; returns argv without them.

    Raises:
      app.UsageError: every fault, one line each, naming the flag.
    """
    cli_flags.define_command(command, flag_values)
    install_help(lambda: help_text(command, flag_values, summary), flag_values)
    try:
        if "preset" in command.groups:
            argv = presets.with_preset(argv, flag_values)
        remaining = flag_values(argv)
    except flags.Error as error:
        raise app.UsageError(describe_flag_error(error, command)) from None
    if len(remaining) > 1 and not command.arguments:
        raise app.UsageError(f"unexpected arguments: {' '.join(remaining[1:])} (python -m "
                             f"{command.module} takes only flags)")
    cli_flags.check_command(command, flag_values)
    return remaining


def _flag_of_path(path: str, command, flag_values) -> str:
    """`--name=value` of the command's path flag that `path` is, lies in, or leads to; or ""."""
    target, best = os.path.abspath(path), ""
    for name in command.flag_names():
        value = flag_values[name].value if name in flag_values else None
        if not isinstance(value, str) or not value.strip():
            continue
        place = os.path.abspath(value)
        related = (target == place or target.startswith(place + os.sep)
                   or place.startswith(target + os.sep))
        if related and len(value) > len(best.partition("=")[2]):
            best = f"--{name}={value}"
    return best


def describe_os_error(error: OSError, command, flag_values=FLAGS) -> str:
    """`<path>: <reason> (--flag=value); <what to do>` for an OSError."""
    if error.filename is None:
        return str(error)
    path = str(error.filename)
    if error.filename2 is not None:
        path += f" -> {error.filename2}"
    flag = _flag_of_path(str(error.filename), command, flag_values)
    place = flag.partition("=")[0] if flag else "path"
    advice = _OS_ADVICE.get(error.errno, "check the path").format(place=place)
    reason = (error.strerror or type(error).__name__).lower()
    return f"{path}: {reason}{f' ({flag})' if flag else ''}; {advice}"


def describe_error(error: BaseException, command, flag_values=FLAGS):
    """The `error:` message of a fault the user can fix, or None for anything else (a bug)."""
    if isinstance(error, flags.Error):
        return describe_flag_error(error, command)
    if isinstance(error, OSError):
        return describe_os_error(error, command, flag_values)
    tensorflow = sys.modules.get("tensorflow")
    if tensorflow is not None and isinstance(error, tensorflow.errors.OpError):
        return (error.message or str(error)).splitlines()[0]
    project_error = type(error).__module__.split(".")[0] == "mmtl_tf"
    if isinstance(error, (app.UsageError, ValueError)) or project_error:
        return " ".join(str(error).split()) or type(error).__name__
    return None


def _verbose(flag_values) -> bool:
    return "verbosity" in flag_values and flag_values["verbosity"].value >= 1


def print_error(message: str) -> None:
    """Prints each line of `message` as `error: <line>` on stderr."""
    for line in message.splitlines() or [""]:
        print(f"error: {line}", file=sys.stderr)


INTERRUPTED = ("interrupted (Ctrl-C). Run the same command again to continue: training resumes "
               "from its last validation checkpoint and skips finished folds, prepare keeps its "
               "finished speakers")


def guard(function, command, flag_values=FLAGS):
    """Runs `function()`; a fault the user can fix becomes `error:` lines and exit status 1;
    Ctrl-C becomes `error: interrupted ...` saying how to continue, and exit status 130.

    Returns:
      What `function` returns.

    Raises:
      SystemExit: status 1 after printing the error (and, with --verbosity=1, the traceback);
        status 130 after an interrupt.
    """
    try:
        return function()
    except KeyboardInterrupt:  # Ctrl-C: one line and what to do, not TensorFlow's stack
        if _verbose(flag_values):
            traceback.print_exc()
        print_error(INTERRUPTED)
        sys.exit(130)
    except Exception as error:  # pylint: disable=broad-except (sorted by describe_error)
        message = describe_error(error, command, flag_values)
        if message is None:
            raise
        if _verbose(flag_values):
            traceback.print_exc()
        print_error(message)
        sys.exit(1)


def run(main, command, summary: str = "") -> None:
    """Parses `command`'s flags and runs `main(argv)` inside `guard` (the entry point).

    Args:
      main: function of the positional arguments (argv[0] is the program).
      command: the entry point's `cli_flags.Command`.
      summary: the module docstring; its first paragraph heads `--help`.
    """
    first_paragraph = summary.strip().split("\n\n")[0]

    def parse_or_exit(argv):
        try:
            return parse(argv, command, FLAGS, first_paragraph)
        except app.UsageError as error:
            print_error(str(error))
            sys.exit(1)

    def guarded_main(argv):
        if not _verbose(FLAGS):
            logging.set_verbosity(logging.WARNING)  # TensorFlow's INFO lines drown the progress
        return guard(lambda: main(argv), command, FLAGS)

    app.run(guarded_main, flags_parser=parse_or_exit)

"""Quiet start of the command-line tools: no TensorFlow C++ start-up lines unless asked for.

Importing TensorFlow prints C++ log lines on stderr (absl's pre-init warning, "Could not find
cuda drivers", cpu_feature_guard, the oneDNN banner), and its first op logs an ERROR about cuInit
on every machine without a GPU. They tell a user of `python -m mmtl_tf.<command>` nothing, so
when the process was started that way, and only then, `mmtl_tf/__init__.py` calls `quiet_command`
before anything imports TensorFlow:

- TF_CPP_MIN_LOG_LEVEL=3 hides TensorFlow's C++ INFO, WARNING and ERROR lines (fatal ones still
  print; Python errors are raised as usual), and
- stderr (file descriptor 2) goes to /dev/null while `import tensorflow` runs, which hides the
  lines its shared libraries print while loading, before TF_CPP_MIN_LOG_LEVEL is read.

A program that imports mmtl_tf as a library keeps TensorFlow's behaviour. A user's own
TF_CPP_MIN_LOG_LEVEL is respected, and `--verbosity=N` (or `-v N`) with N >= 1 on the command
line shows every line, as TensorFlow prints them.

The same start selects TensorFlow's BFC allocator for host memory (`command_allocator`): a
command's tensors then come from TensorFlow's own pool instead of malloc, whose fragmentation
made a long training run's peak memory creep (BUILD.md, "Memory over a long run"); and it gives
`python -m mmtl_tf.prepare` one intra-op thread (`command_threads`, BUILD.md "Preparation").
"""

import contextlib
import importlib.abc
import importlib.util
import os
import re
import sys

PACKAGE = "mmtl_tf"
ALLOCATOR_VARIABLE = "TF_CPU_ALLOCATOR_USE_BFC"
# The prepare command's thread settings (TensorFlow reads them when it starts): each op on one
# thread. Its feature calls already run side by side on a pool of threads, one per core and one
# more (`preparation_stream`), so splitting every op over the cores as well only added hand-offs.
PREPARE_THREADS = {"TF_NUM_INTRAOP_THREADS": "1"}
PREPARE_COMMAND = PACKAGE + ".prepare"
_VERBOSITY = re.compile(r"^--?(?:verbosity|v)(?:=(.*))?$")


def command_arguments(orig_argv) -> list:
    """The arguments of a `python [options] -m mmtl_tf.<command> ARGS` process, or None.

    Args:
      orig_argv: the interpreter's full command line (`sys.orig_argv`).
    """
    command = command_line(orig_argv)
    return None if command is None else command[1]


def command_line(orig_argv) -> tuple:
    """(module, arguments) of a `python [options] -m mmtl_tf.<command> ARGS` process, or None."""
    index = 1
    while index < len(orig_argv):
        argument = orig_argv[index]
        if argument == "-m" and index + 1 < len(orig_argv):
            module = orig_argv[index + 1]
            if not module.startswith(PACKAGE + "."):
                return None
            return module, list(orig_argv[index + 2:])
        if argument in ("-c", "-") or not argument.startswith("-"):
            return None  # a script or -c program, not `-m mmtl_tf.<command>`
        index += 2 if argument in ("-W", "-X") else 1  # the options that take a value
    return None


def asks_for_detail(arguments) -> bool:
    """True when the command line sets --verbosity (or -v) to 1 or more."""
    for index, argument in enumerate(arguments):
        match = _VERBOSITY.match(argument)
        if not match:
            continue
        value = match.group(1)
        if value is None and index + 1 < len(arguments):
            value = arguments[index + 1]
        try:
            if int(value) >= 1:
                return True
        except (TypeError, ValueError):
            pass
    return False


def should_quiet(orig_argv, environ) -> bool:
    """Whether this process is an mmtl_tf command that should start without TensorFlow's lines."""
    arguments = command_arguments(orig_argv)
    return (arguments is not None and "TF_CPP_MIN_LOG_LEVEL" not in environ
            and not asks_for_detail(arguments))


@contextlib.contextmanager
def stderr_silenced():
    """Sends file descriptor 2 (C/C++ and Python stderr) to /dev/null inside the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _SilentTensorFlowImport(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` with the other finders and runs its first import silenced."""

    def find_spec(self, fullname, path=None, target=None):  # pylint: disable=unused-argument
        """Returns the usual spec of `tensorflow`, its loader's exec_module wrapped."""
        if fullname != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: later imports find the module in sys.modules
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            execute = spec.loader.exec_module

            def exec_module(module):
                with stderr_silenced():
                    execute(module)

            spec.loader.exec_module = exec_module
        return spec


def quiet_command(orig_argv=None, environ=None) -> bool:
    """Quiets TensorFlow's start-up when `should_quiet`; returns whether it did.

    Must run before TensorFlow is imported (mmtl_tf/__init__.py calls it).
    """
    orig_argv = getattr(sys, "orig_argv", sys.argv) if orig_argv is None else orig_argv
    environ = os.environ if environ is None else environ
    if not should_quiet(orig_argv, environ):
        return False
    environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    if "tensorflow" not in sys.modules:
        sys.meta_path.insert(0, _SilentTensorFlowImport())
    return True


def command_allocator(orig_argv=None, environ=None) -> bool:
    """Selects TensorFlow's BFC allocator for host memory in an mmtl_tf command; returns whether.

    Measured on the training loop (BUILD.md, "Memory over a long run"): from step 25 to step 200
    the peak resident memory rose 4.0-4.2% with malloc and 1.4-2.9% with the BFC pool, and the
    outer step was 4-15% faster with the pool. A user's own TF_CPU_ALLOCATOR_USE_BFC is
    kept, and a process that imports mmtl_tf as a library is left alone. Must run before
    TensorFlow's first op (mmtl_tf/__init__.py calls it).
    """
    orig_argv = getattr(sys, "orig_argv", sys.argv) if orig_argv is None else orig_argv
    environ = os.environ if environ is None else environ
    if command_arguments(orig_argv) is None or ALLOCATOR_VARIABLE in environ:
        return False
    environ[ALLOCATOR_VARIABLE] = "true"
    return True


def host_allocator(environ=None) -> str:
    """The host allocator TensorFlow uses in this process: "bfc" or "malloc" (for records)."""
    environ = os.environ if environ is None else environ
    return "bfc" if environ.get(ALLOCATOR_VARIABLE, "").lower() in ("true", "1") else "malloc"


def prepare_threads(environ) -> bool:
    """Sets `PREPARE_THREADS` in `environ` where the user has not set the variable; returns
    whether anything was set. Shared by the prepare command and the benchmark's child process
    that measures it (`bench/prepare_figure.py`)."""
    missing = {name: value for name, value in PREPARE_THREADS.items() if name not in environ}
    environ.update(missing)
    return bool(missing)


def command_threads(orig_argv=None, environ=None) -> bool:
    """Gives `python -m mmtl_tf.prepare` the thread settings `PREPARE_THREADS`; returns whether.

    Measured on the bench corpus (BUILD.md, "Preparation"): in four pairs of processes, 7-25%
    less wall time and 8-22% less CPU than TensorFlow's default intra-op pool; the shards are
    byte-identical. Only the prepare command: `main`
    prepares and then trains in one process, and training's ops need the intra-op pool. A user's
    own TF_NUM_INTRAOP_THREADS is kept. Must run before TensorFlow starts (mmtl_tf/__init__.py).
    """
    orig_argv = getattr(sys, "orig_argv", sys.argv) if orig_argv is None else orig_argv
    environ = os.environ if environ is None else environ
    command = command_line(orig_argv)
    if command is None or command[0] != PREPARE_COMMAND:
        return False
    return prepare_threads(environ)

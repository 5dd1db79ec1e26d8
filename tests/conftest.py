"""Shared fixtures: a tiny synthetic corpus prepared once per test session.

README's test command runs the suite on two pytest-xdist workers (`-n 2 --dist loadfile`):
each module's tests stay on one worker, so a module-scoped fixture is built once.
"""

import os
import shutil
import sys
import tempfile

import pytest

# Two test workers may share one GPU: neither may take all its memory up front.
os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")

# Work the pytest-xdist workers share (tests/trained_run.py): a folder the main pytest process
# makes before the workers start (they inherit the variable) and removes after they finish.
SHARED_DIR_VARIABLE = "MMTL_TESTS_SHARED_DIR"


def pytest_configure(config):
    """In the main pytest process: makes the shared folder and names it in the environment."""
    if not hasattr(config, "workerinput"):
        config.mmtl_shared_dir = tempfile.mkdtemp(prefix="mmtl_tests_")
        os.environ[SHARED_DIR_VARIABLE] = config.mmtl_shared_dir


def pytest_unconfigure(config):
    """In the main pytest process: removes the shared folder."""
    if hasattr(config, "mmtl_shared_dir"):
        shutil.rmtree(config.mmtl_shared_dir, ignore_errors=True)
        os.environ.pop(SHARED_DIR_VARIABLE, None)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMOKE_FLAGS = os.path.join(REPO, "flags", "smoke.cfg")


def smoke_features():
    """The FeatureConfig of the smoke preset, read from flags/smoke.cfg as `main` reads it."""
    from absl import flags  # pylint: disable=import-outside-toplevel

    from mmtl_tf import cli_app, cli_flags, flag_configs  # pylint: disable=import-outside-toplevel
    flag_values = flags.FlagValues()
    cli_app.parse(["main", f"--flagfile={SMOKE_FLAGS}"], cli_flags.MAIN, flag_values)
    return flag_configs.feature_config_from_flags(flag_values)


@pytest.fixture(scope="session")
def synthetic_shards(tmp_path_factory):
    """(tfrecord_dir, feature_config, manifest) of a small synthetic corpus (10 speakers),
    prepared with the smoke preset's features."""
    from mmtl_tf import preparation
    from mmtl_tf.corpora import synthetic

    root = tmp_path_factory.mktemp("synthetic")
    listing = synthetic.read_synthetic(str(root / "corpus"), utterances_per_speaker=8, seed=0)
    feature_config = smoke_features()
    manifest = preparation.prepare_corpus(listing, feature_config, str(root / "shards"),
                                          show_progress=False)
    return str(root / "shards"), feature_config, manifest


def python_command(*module_and_args):
    """argv running this interpreter on a module (`python -m ...`)."""
    return [sys.executable, "-m", *module_and_args]


def run_command_in_process(module, *arguments):
    """`python -m mmtl_tf.<module> arguments`, in this process.

    The flags are parsed into a fresh FlagValues and the command's `run` runs inside
    `cli_app.guard`, as the command does; a command that takes positional arguments (predict's
    WAV..., report's and ablation's RUN_DIR...) gets them as `run(arguments, flag_values)`. Output goes to this process's stdout and
    stderr (read them with capsys, or use `completed_in_process`). A test that needs the process
    boundary itself (start-up, a kill) starts the command in a subprocess instead.

    Returns:
      What the command's `run` returns.

    Raises:
      SystemExit: status 1 after the command's `error:` lines, for a fault the user can fix.
    """
    import importlib  # pylint: disable=import-outside-toplevel

    from absl import flags  # pylint: disable=import-outside-toplevel

    from mmtl_tf import cli_app  # pylint: disable=import-outside-toplevel
    command = importlib.import_module(f"mmtl_tf.{module}")
    flag_values = flags.FlagValues()
    positional = cli_app.parse([module, *arguments], command.COMMAND, flag_values)[1:]
    if command.COMMAND.arguments:
        return cli_app.guard(lambda: command.run(positional, flag_values), command.COMMAND,
                             flag_values)
    return cli_app.guard(lambda: command.run(flag_values), command.COMMAND, flag_values)


def completed_in_process(module, *arguments):
    """`run_command_in_process` with its output captured, as `subprocess.run` reports a child.

    For module-scoped fixtures (which cannot use capsys). Exit status 1 comes from the command's
    SystemExit; any other exception propagates (where the command would print a traceback).

    Returns:
      subprocess.CompletedProcess(args, returncode, stdout, stderr) with text output.
    """
    import contextlib  # pylint: disable=import-outside-toplevel
    import io  # pylint: disable=import-outside-toplevel
    import subprocess  # pylint: disable=import-outside-toplevel

    stdout, stderr = io.StringIO(), io.StringIO()
    status = 0
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            run_command_in_process(module, *arguments)
        except SystemExit as exited:
            status = exited.code
    return subprocess.CompletedProcess([module, *arguments], status, stdout.getvalue(),
                                       stderr.getvalue())


def run_main_in_process(*arguments):
    """`python -m mmtl_tf.main --flagfile=flags/smoke.cfg arguments`, in this process
    (`run_command_in_process`; main's end-to-end subprocess run is
    tests/test_main_end_to_end.py's `smoke_run`)."""
    return run_command_in_process("main", f"--flagfile={SMOKE_FLAGS}", *arguments)

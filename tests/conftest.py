"""Shared fixtures: a tiny synthetic corpus prepared once per test session.

README's test command runs the suite on two pytest-xdist workers (`-n 2 --dist loadfile`):
each module's tests stay on one worker, so a module-scoped fixture is built once.
"""

import os
import sys

import pytest

# Two test workers may share one GPU: neither may take all its memory up front.
os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")

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


def run_main_in_process(*arguments):
    """`python -m mmtl_tf.main --flagfile=flags/smoke.cfg arguments`, in this process.

    The flags are parsed into a fresh FlagValues and `main.run` runs inside `cli_app.guard`, as
    the command does (its end-to-end subprocess run is tests/test_main_end_to_end.py's
    `smoke_run`). Output goes to this process's stdout and stderr (read them with capsys).

    Returns:
      What `main.run` returns.

    Raises:
      SystemExit: status 1 after the command's `error:` lines, for a fault the user can fix.
    """
    from absl import flags  # pylint: disable=import-outside-toplevel

    from mmtl_tf import cli_app, main  # pylint: disable=import-outside-toplevel
    flag_values = flags.FlagValues()
    cli_app.parse(["main", f"--flagfile={SMOKE_FLAGS}", *arguments], main.COMMAND, flag_values)
    return cli_app.guard(lambda: main.run(flag_values), main.COMMAND, flag_values)

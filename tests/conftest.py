"""Shared fixtures: a tiny synthetic corpus prepared once per test session."""

import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMOKE_FLAGS = os.path.join(REPO, "flags", "smoke.cfg")


@pytest.fixture(scope="session")
def synthetic_shards(tmp_path_factory):
    """(tfrecord_dir, feature_config, manifest) of a small synthetic corpus (10 speakers)."""
    from mmtl_tf import config, preparation
    from mmtl_tf.corpora import synthetic

    root = tmp_path_factory.mktemp("synthetic")
    listing = synthetic.read_synthetic(str(root / "corpus"), utterances_per_speaker=8, seed=0)
    feature_config = config.FeatureConfig()
    manifest = preparation.prepare_corpus(listing, feature_config, str(root / "shards"),
                                          show_progress=False)
    return str(root / "shards"), feature_config, manifest


def python_command(*module_and_args):
    """argv running this interpreter on a module (`python -m ...`)."""
    return [sys.executable, "-m", *module_and_args]

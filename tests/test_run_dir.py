"""Run directories (mmtl_tf.run_dir, directory_lock): the lock, config.json, and imports one way."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import REPO
from lock_holder import Holder
from mmtl_tf import config, directory_lock, run_dir as run_dir_lib


class _Split:
    train, validation, test = ("1F", "1M", "2F"), "3F", ("3M",)


def _experiment(run_dir, strategy="default", **train):
    return config.ExperimentConfig(
        features=config.FeatureConfig(), model=config.ModelConfig(),
        train=config.TrainConfig(**train), tfrecord_dir="shards", run_dir=str(run_dir),
        strategy=strategy)


MANIFEST = {"corpus": "synthetic", "class_names": ["neu", "hap", "sad", "ang"],
            "speakers": {speaker: {"digest": f"digest-{speaker}"}
                         for speaker in ("1F", "1M", "2F", "3F", "3M")}}


def test_a_live_owner_keeps_the_lock_and_a_dead_one_loses_it(tmp_path):
    with Holder(tmp_path) as live_owner:  # a process holding the lock's flock
        record = (tmp_path / ".lock").read_text()
        with pytest.raises(run_dir_lib.RunDirError) as raised:
            with run_dir_lib.RunLock(str(tmp_path)):
                pass
        assert str(raised.value) == (f"{tmp_path} is in use by another run (pid "
                                     f"{live_owner.pid}). Wait for it to finish, or choose "
                                     f"another --run_dir.")
        assert (tmp_path / ".lock").read_text() == record  # the refused side writes nothing

        prepare_lock = directory_lock.DirectoryLock(str(tmp_path), user="prepare",
                                                    flag="--tfrecord_dir")
        with pytest.raises(directory_lock.DirectoryInUseError, match="in use by another prepare"):
            with prepare_lock:
                pass

        live_owner.kill()  # SIGKILL: the kernel releases its lock, the lock is free at once
        with run_dir_lib.RunLock(str(tmp_path / "new")):  # a missing directory is created
            assert (tmp_path / "new" / ".lock").read_text().split()[0] == f"pid={os.getpid()}"
        with run_dir_lib.RunLock(str(tmp_path)):
            assert (tmp_path / ".lock").read_text().split()[0] == f"pid={os.getpid()}"
    assert (tmp_path / ".lock").read_text() == ""  # left in place, emptied


def test_config_is_recorded_once_and_other_settings_are_refused_without_writing(tmp_path):
    record = run_dir_lib.record_config(_experiment(tmp_path), MANIFEST, _Split())
    stored = (tmp_path / "config.json").read_bytes()
    assert json.loads(stored) == record and record["test_speaker"] == "3M"
    moved = _experiment(tmp_path / "elsewhere", strategy="mirrored")  # same result: accepted
    run_dir_lib.check_same_settings(str(tmp_path), run_dir_lib.config_record(moved, MANIFEST, _Split()))
    with pytest.raises(run_dir_lib.RunDirError, match="train.seed: requested 7, stored 0"):
        run_dir_lib.check_same_settings(str(tmp_path), run_dir_lib.config_record(
            _experiment(tmp_path, seed=7), MANIFEST, _Split()))
    assert (tmp_path / "config.json").read_bytes() == stored
    record_back, experiment = run_dir_lib.read_experiment(str(tmp_path))
    assert record_back == record and experiment == _experiment(tmp_path)


def test_a_missing_or_foreign_config_json_is_named(tmp_path):
    with pytest.raises(run_dir_lib.RunDirError, match="is not a run directory .no config.json"):
        run_dir_lib.read_record(str(tmp_path))
    (tmp_path / "config.json").write_text("{")
    with pytest.raises(run_dir_lib.RunDirError, match="config.json: not valid JSON"):
        run_dir_lib.read_record(str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"corpus": "x", "class_names": []}))
    with pytest.raises(run_dir_lib.RunDirError, match="missing experiment"):
        run_dir_lib.read_experiment(str(tmp_path))


_IMPORTS = textwrap.dedent("""
    import sys
    import mmtl_tf.report, mmtl_tf.reporting, mmtl_tf.report_rendering, mmtl_tf.results_file
    import mmtl_tf.report_variants, mmtl_tf.report_summary, mmtl_tf.preset_settings
    import mmtl_tf.export_format, mmtl_tf.corpus_notes, mmtl_tf.confusion_plot
    assert "tensorflow" not in sys.modules, "reports load TensorFlow"
    print("ok")
""")


def test_report_modules_load_no_tensorflow():  # run_dir's imports: test_import_layout.py
    completed = subprocess.run([sys.executable, "-c", _IMPORTS], cwd=REPO, capture_output=True,
                               text=True, timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert completed.returncode == 0 and completed.stdout.strip() == "ok", completed.stderr[-2000:]


def test_a_run_whose_speakers_were_prepared_again_is_refused_unless_unrecorded(tmp_path):
    """A resumed run must not continue on other data: a fold speaker's digest in the manifest
    differs from the one config.json recorded. Runs (or manifests) without digests resume."""
    record = run_dir_lib.record_config(_experiment(tmp_path), MANIFEST, _Split())
    assert record[run_dir_lib.DATA_KEY] == {speaker: f"digest-{speaker}"
                                            for speaker in ("1F", "1M", "2F", "3F", "3M")}
    relabelled = json.loads(json.dumps(MANIFEST))
    relabelled["speakers"]["3M"]["digest"] = "digest-3M-relabelled"
    relabelled["speakers"]["4F"] = {"digest": "a speaker of no fold here"}
    with pytest.raises(run_dir_lib.RunDirError) as raised:
        run_dir_lib.check_same_settings(str(tmp_path), run_dir_lib.config_record(
            _experiment(tmp_path), relabelled, _Split()))
    assert "trained on other data: speaker(s) 3M were prepared again" in str(raised.value)
    assert "--rerun" in str(raised.value)
    unrecorded = json.loads(json.dumps(MANIFEST))
    for entry in unrecorded["speakers"].values():
        del entry["digest"]  # a manifest from before digests
    run_dir_lib.check_same_settings(str(tmp_path), run_dir_lib.config_record(
        _experiment(tmp_path), unrecorded, _Split()))
    old = json.loads((tmp_path / "config.json").read_text())
    del old[run_dir_lib.DATA_KEY]  # a run from before digests
    (tmp_path / "config.json").write_text(json.dumps(old))
    run_dir_lib.check_same_settings(str(tmp_path), run_dir_lib.config_record(
        _experiment(tmp_path), relabelled, _Split()))


def test_checkpoints_without_config_json_are_not_resumed_with_unknown_settings(tmp_path):
    """A config.json deleted (as damaged, say) must not let other flags resume the old weights."""
    record = run_dir_lib.config_record(_experiment(tmp_path), MANIFEST, _Split())
    run_dir_lib.check_same_settings(str(tmp_path), record)  # an empty directory: a new run
    (tmp_path / "tensorboard").mkdir()
    run_dir_lib.check_same_settings(str(tmp_path), record)  # no checkpoint yet: still new
    latest = tmp_path / "checkpoints" / "latest"
    latest.mkdir(parents=True)
    (latest / "checkpoint").write_text('model_checkpoint_path: "ckpt-10"\n')
    with pytest.raises(run_dir_lib.RunDirError,
                       match="holds checkpoints but no config.json.*--rerun"):
        run_dir_lib.check_same_settings(str(tmp_path), record)

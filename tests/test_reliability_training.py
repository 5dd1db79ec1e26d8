"""Training-side faults: damaged shards, NaN losses, a second run on the same run_dir, bad flags."""

import os
import shutil
import subprocess

import pytest

from conftest import REPO, SMOKE_FLAGS, python_command


def _copy_shards(synthetic_shards, tmp_path):
    directory = str(tmp_path / "shards")
    shutil.copytree(synthetic_shards[0], directory)
    return directory


def _main(tfrecord_dir, run_dir, *extra):
    command = python_command("mmtl_tf.main", f"--flagfile={SMOKE_FLAGS}", f"--tfrecord_dir={tfrecord_dir}",
                             f"--run_dir={run_dir}", "--epochs=1", *extra)
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)


def _training_shard(directory):
    """The shard of speaker 3F, a training speaker of fold 2."""
    from mmtl_tf import tfrecords  # pylint: disable=import-outside-toplevel

    return tfrecords.speaker_shard_paths(directory, tfrecords.load_manifest(directory), "3F")[0]


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_shard_is_named_with_what_to_do(synthetic_shards, tmp_path, damage):
    directory = _copy_shards(synthetic_shards, tmp_path)
    shard = _training_shard(directory)
    data = bytearray(open(shard, "rb").read())
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 3] ^= 0xFF
    open(shard, "wb").write(bytes(data))
    completed = _main(directory, str(tmp_path / "run"))
    assert completed.returncode != 0
    assert shard in completed.stderr and "re-run" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not os.path.exists(tmp_path / "run" / "results.json")


def test_aux_task_the_corpus_lacks_is_a_flag_error(synthetic_shards, tmp_path):
    import json
    directory = _copy_shards(synthetic_shards, tmp_path)
    manifest_path = os.path.join(directory, "manifest.json")
    manifest = json.load(open(manifest_path))
    manifest["aux_available"]["dominance"] = False
    json.dump(manifest, open(manifest_path, "w"))
    completed = _main(directory, str(tmp_path / "run"), "--aux=vd")
    assert completed.returncode != 0 and "dominance" in completed.stderr and "--aux" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_nan_loss_stops_with_step_and_speaker_and_skip_flag_continues(synthetic_shards, tmp_path):
    # A learning rate of inf makes theta'_i non-finite at the first step, for every speaker.
    completed = _main(synthetic_shards[0], str(tmp_path / "run"), "--meta_learning_rate=inf")
    assert completed.returncode != 0
    assert "non-finite" in completed.stderr and "epoch 1, step 1, speaker 1F" in completed.stderr
    assert "Traceback" not in completed.stderr
    skipped = _main(synthetic_shards[0], str(tmp_path / "run2"), "--meta_learning_rate=inf",
                    "--skip_nonfinite")
    assert skipped.returncode == 0, skipped.stderr[-2000:]
    assert "skipped a non-finite step" in skipped.stdout


def test_second_run_on_a_locked_run_dir_is_refused(synthetic_shards, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        (run_dir / ".lock").write_text(str(sleeper.pid))
        completed = _main(synthetic_shards[0], str(run_dir))
        assert completed.returncode != 0
        assert "in use by another run" in completed.stderr and str(sleeper.pid) in completed.stderr
    finally:
        sleeper.kill()
    from mmtl_tf import run_dir as run_dir_lib

    (run_dir / ".lock").write_text("999999")  # a dead owner: the stale lock is taken over
    with run_dir_lib.RunLock(str(run_dir)):
        assert (run_dir / ".lock").read_text() == str(os.getpid())
    assert not (run_dir / ".lock").exists()

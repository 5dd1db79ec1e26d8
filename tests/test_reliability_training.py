"""Training-side faults: damaged shards, NaN losses, a second run on the same run_dir, bad flags.

Each case runs main's body in this process inside the command's error guard
(`conftest.run_main_in_process`): exit status 1 and the `error:` lines on stderr are what
`python -m mmtl_tf.main` gives, and an unexpected exception propagates (fails the test) where the
command would print a traceback.
"""

import json
import os
import shutil

import pytest

from conftest import run_main_in_process
from lock_holder import Holder


def _copy_shards(synthetic_shards, tmp_path):
    directory = str(tmp_path / "shards")
    shutil.copytree(synthetic_shards[0], directory)
    return directory


def _main(capsys, tfrecord_dir, run_dir, *extra):
    """Runs main's body in this process (`conftest.run_main_in_process`), one epoch.

    Returns:
      (exit status, stdout, stderr) as the command would give them.
    """
    capsys.readouterr()
    try:
        run_main_in_process(f"--tfrecord_dir={tfrecord_dir}", f"--run_dir={run_dir}", "--epochs=1",
                            *extra)
        status = 0
    except SystemExit as exited:
        status = exited.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _training_shard(directory):
    """The shard of speaker 3F, a training speaker of fold 2."""
    from mmtl_tf import shard_reader, tfrecords  # pylint: disable=import-outside-toplevel

    return shard_reader.speaker_shard_paths(directory, tfrecords.load_manifest(directory), "3F")[0]


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_shard_is_named_with_what_to_do(synthetic_shards, tmp_path, damage, capsys):
    directory = _copy_shards(synthetic_shards, tmp_path)
    shard = _training_shard(directory)
    data = bytearray(open(shard, "rb").read())
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 3] ^= 0xFF
    open(shard, "wb").write(bytes(data))
    status, _, stderr = _main(capsys, directory, str(tmp_path / "run"))
    assert status != 0
    assert shard in stderr and "re-run" in stderr
    assert "Traceback" not in stderr
    assert not os.path.exists(tmp_path / "run" / "results.json")


def test_aux_task_the_corpus_lacks_is_a_flag_error(synthetic_shards, tmp_path, capsys):
    import json
    directory = _copy_shards(synthetic_shards, tmp_path)
    manifest_path = os.path.join(directory, "manifest.json")
    manifest = json.load(open(manifest_path))
    manifest["aux_available"]["dominance"] = False
    json.dump(manifest, open(manifest_path, "w"))
    status, _, stderr = _main(capsys, directory, str(tmp_path / "run"), "--aux=vd")
    assert status != 0 and "dominance" in stderr and "--aux" in stderr
    assert "Traceback" not in stderr


def test_nan_loss_stops_with_step_and_speaker_and_skip_flag_continues(synthetic_shards, tmp_path,
                                                                     capsys):
    # A learning rate of inf makes theta'_i non-finite at the first step, for every speaker.
    status, _, stderr = _main(capsys, synthetic_shards[0], str(tmp_path / "run"),
                              "--meta_learning_rate=inf")
    assert status != 0
    assert "non-finite" in stderr and "epoch 1, step 1, speaker 1F" in stderr
    assert "no step was validated yet" in stderr and "--rerun" in stderr
    assert "Traceback" not in stderr
    status, stdout, stderr = _main(capsys, synthetic_shards[0], str(tmp_path / "run2"),
                                   "--meta_learning_rate=inf", "--skip_nonfinite", "--train_steps=2",
                                   "--eval_every=1", "--test_adapt_steps=0")  # alpha would diverge
    assert status == 0, stderr[-2000:]
    assert stdout.count("skipped a non-finite step") == 2
    # Both steps were skipped, whichever checkpoint is selected (the best one is from step 1).
    with open(tmp_path / "run2" / "results.json", encoding="utf-8") as handle:
        assert json.load(handle)["skipped_steps"] == 2


def test_second_run_on_a_locked_run_dir_is_refused(synthetic_shards, tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    with Holder(run_dir) as owner:  # a live process holding the run directory's lock
        status, _, stderr = _main(capsys, synthetic_shards[0], str(run_dir))
        assert status != 0
        assert "in use by another run" in stderr and str(owner.pid) in stderr
    from mmtl_tf import run_dir as run_dir_lib

    # The owner was SIGKILLed: its record stays in the file, but the lock is free at once.
    assert (run_dir / ".lock").read_text().split()[0] == f"pid={owner.pid}"
    with run_dir_lib.RunLock(str(run_dir)):
        assert (run_dir / ".lock").read_text().split()[0] == f"pid={os.getpid()}"
    assert (run_dir / ".lock").read_text() == ""


@pytest.mark.parametrize("damage", ["truncated data", "corrupt index"])
def test_a_damaged_checkpoint_is_named_with_what_to_do(tmp_path, damage):
    """Not a raw IndexError or 'file is too short to be an sstable' naming no file."""
    import glob

    import trained_run
    from mmtl_tf import checkpoints, trained_model

    copy = str(tmp_path / "run")
    shutil.copytree(trained_run.run_dir(), copy, ignore=shutil.ignore_patterns("export"))
    best = checkpoints.checkpoint_dir(copy, checkpoints.BEST)
    pattern = "*.data-*" if damage == "truncated data" else "*.index"
    for path in glob.glob(os.path.join(best, pattern)):
        with open(path, "r+b") as handle:
            handle.truncate(40 if damage == "corrupt index" else 1000)
    with pytest.raises(checkpoints.CheckpointError) as raised:
        trained_model.load_trained(copy)
    message = str(raised.value)
    assert message.startswith(os.path.join(best, "ckpt-")) and "cannot be restored" in message
    assert "delete its files" in message and "--rerun" in message

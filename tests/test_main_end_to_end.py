"""`python -m mmtl_tf.main` end to end on tiny synthetic data: outputs, resume after SIGKILL, TensorBoard."""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request

import numpy as np
import pytest
import tensorflow as tf

from conftest import REPO, SMOKE_FLAGS, python_command, run_main_in_process

RESULT_FIELDS = {"corpus", "fold", "aux", "model", "preset", "seed", "val_speaker", "test_speaker",
                 "test_per_speaker", "ua", "wa", "ua_no_adapt", "wa_no_adapt", "confusion", "class_names", "epochs",
                 "best_epoch", "best_step", "train_steps", "steps_trained", "seconds"}
# The smoke corpus' largest training speaker has 22 segments: 6 steps per epoch at B = 4, so 9
# steps (1.5 epochs) with a validation every 4 steps checks that the step schedule is obeyed.
SCHEDULE = ("--train_steps=9", "--eval_every=4")


def run_main(tfrecord_dir, run_dir, *extra, check=True):
    """Runs the smoke preset of main in a subprocess; returns the CompletedProcess."""
    command = python_command("mmtl_tf.main", f"--flagfile={SMOKE_FLAGS}",
                             f"--tfrecord_dir={tfrecord_dir}", f"--run_dir={run_dir}", *extra)
    environment = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    completed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300,
                               env=environment)  # the command's own quiet start
    if check and completed.returncode != 0:
        raise AssertionError(f"main failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    return completed


def checkpoint_weights(run_dir, kind="latest"):
    """Model weights of a run's newest checkpoint (optimizer slots and counters left out)."""
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(os.path.join(run_dir, "checkpoints", kind)))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if name.startswith(("meta/", "head/")) and "OPTIMIZER" not in name}


@pytest.fixture(scope="module")
def smoke_run(synthetic_shards, tmp_path_factory):
    run_dir = str(tmp_path_factory.mktemp("runs") / "smoke")
    # --export: training, restoring the best checkpoint and exporting in one process.
    completed = run_main(synthetic_shards[0], run_dir, *SCHEDULE, "--fold=2", "--aux=va", "--export")
    return run_dir, completed


def test_main_writes_results_naming_the_corpus(smoke_run):
    run_dir, completed = smoke_run
    results = json.load(open(os.path.join(run_dir, "results.json")))
    assert RESULT_FIELDS <= set(results)
    assert results["corpus"] == "synthetic" and "not IEMOCAP results" in results["note"]
    assert (results["fold"], results["aux"], results["model"], results["preset"]) == (2, "va", "mmtl", "smoke")
    assert (results["val_speaker"], results["test_speaker"]) == ("2F", "2M")
    alone = results["test_per_speaker"]["2M"]  # the one test speaker: the fold's scores
    assert (alone["ua"], alone["wa"], alone["utterances"]) == (
        results["ua"], results["wa"], results["test_utterances"])
    assert (results["train_steps"], results["steps_trained"]) == (9, 9)
    assert results["best_step"] in (4, 8, 9)
    confusion = np.array(results["confusion"])
    assert confusion.shape == (4, 4) and confusion.sum() == results["test_utterances"] > 0
    assert np.isclose(results["wa"], np.trace(confusion) / confusion.sum())
    lines = completed.stdout.splitlines()
    assert "corpus: synthetic" in completed.stdout
    described = [line for line in lines if "mmtl fold 2 aux=va test 2M: UA " in line]
    assert len(described) == 1, lines[-5:]  # the fold's one-line summary
    artefacts = lines[-1]  # the final line names every output
    assert artefacts.startswith("wrote: ")
    for name in ("results.json", "confusion_matrix.png", "--logdir=" + os.path.join(run_dir, "tensorboard"),
                 os.path.join(run_dir, "export", "1")):
        assert name in artefacts, (name, artefacts)
    for name in ("flags.txt", "config.json", "confusion_matrix.png", "export/1/saved_model.pb"):
        assert os.path.isfile(os.path.join(run_dir, name)), name
    assert "--preset=smoke" in open(os.path.join(run_dir, "flags.txt")).read()


def test_main_starts_quietly_and_records_only_its_own_flags(smoke_run):
    from mmtl_tf import cli_flags

    run_dir, completed = smoke_run
    for noise in ("cuInit", "oneDNN", "cpu_feature_guard", "absl::InitializeLog", "cuda drivers",
                  "I0000", "W0000", "E0000"):
        assert noise not in completed.stderr, completed.stderr[-2000:]
    lines = open(os.path.join(run_dir, "flags.txt")).read().splitlines()
    names = {line[2:].split("=")[0].removeprefix("no") for line in lines}
    assert names <= set(cli_flags.MAIN.flag_names()) and "--preset=smoke" in lines
    assert "fold" in names and "test_tmpdir" not in names


def test_rerun_of_a_finished_run_is_skipped_not_retrained(smoke_run, synthetic_shards, capsys):
    run_dir, _ = smoke_run
    before = checkpoint_weights(run_dir)
    results_time = os.path.getmtime(os.path.join(run_dir, "results.json"))
    capsys.readouterr()
    run_main_in_process(f"--tfrecord_dir={synthetic_shards[0]}", f"--run_dir={run_dir}", *SCHEDULE,
                        "--fold=2", "--aux=va", "--export")  # main's body, in this process
    stdout = capsys.readouterr().out
    assert "skipped" in stdout and "validation" not in stdout, stdout
    assert os.path.getmtime(os.path.join(run_dir, "results.json")) == results_time
    after = checkpoint_weights(run_dir)
    assert all(np.array_equal(before[name], after[name]) for name in before)


def _hparams_written(run_dir) -> bool:
    """True when the run's TensorBoard events hold an HParams session start."""
    directory = os.path.join(run_dir, "tensorboard")
    for name in os.listdir(directory):
        for event in tf.compat.v1.train.summary_iterator(os.path.join(directory, name)):
            if any(value.metadata.plugin_data.plugin_name == "hparams" for value in event.summary.value):
                return True
    return False


def test_kill_and_resume_gives_the_uninterrupted_weights(synthetic_shards, tmp_path, capsys,
                                                         monkeypatch):
    # Validations (and checkpoints) every 4 steps fall inside epochs of 6 steps, so a resumed
    # run restarts mid-epoch; patience and smoothing must select the same step after resuming.
    # Only the killed runs need a process of their own; the clean run and the resuming run are
    # main's body in this process (the command itself runs end to end in `smoke_run`).
    schedule = ("--train_steps=16", "--eval_every=4", "--patience=2", "--selection_smoothing=2")
    tfrecord_dir = synthetic_shards[0]
    clean = str(tmp_path / "clean")
    run_main_in_process(f"--tfrecord_dir={tfrecord_dir}", f"--run_dir={clean}", *schedule)
    killed = str(tmp_path / "killed")
    rng = np.random.default_rng(7)
    # Stop it at a random moment after some epoch finished, twice: Ctrl-C (SIGINT), then SIGKILL.
    for attempt, stop in enumerate((signal.SIGINT, signal.SIGKILL)):
        command = python_command("mmtl_tf.main", f"--flagfile={SMOKE_FLAGS}", f"--tfrecord_dir={tfrecord_dir}",
                                 f"--run_dir={killed}", *schedule)
        process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        index_file = os.path.join(killed, "checkpoints", "latest", "checkpoint")
        deadline = time.time() + 240
        while not os.path.exists(index_file) and process.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(float(rng.uniform(0.0, 1.0)))
        process.send_signal(stop)
        stderr = process.communicate()[1]
        if stop == signal.SIGINT:  # one line saying how to continue, not TensorFlow's stack
            assert process.returncode == 130, stderr[-2000:]
            assert "Traceback" not in stderr
            assert stderr.strip().splitlines()[-1].startswith("error: interrupted (Ctrl-C). Run the same command again")
        assert not os.path.exists(os.path.join(killed, "results.json")) or attempt > 0
        assert _hparams_written(killed)  # an unfinished run is in TensorBoard's HParams table
    capsys.readouterr()
    # The killed processes' training time up to their last checkpoint, as that checkpoint keeps it.
    earlier = float(tf.train.load_checkpoint(tf.train.latest_checkpoint(os.path.join(
        killed, "checkpoints", "latest"))).get_tensor("elapsed_seconds/.ATTRIBUTES/VARIABLE_VALUE"))
    from mmtl_tf import training  # pylint: disable=import-outside-toplevel
    train_and_evaluate, call_seconds = training.train_and_evaluate, []

    def timed(*args, **kwargs):  # the resuming process's own training time is inside this call
        started = time.time()
        try:
            return train_and_evaluate(*args, **kwargs)
        finally:
            call_seconds.append(time.time() - started)

    monkeypatch.setattr(training, "train_and_evaluate", timed)
    run_main_in_process(f"--tfrecord_dir={tfrecord_dir}", f"--run_dir={killed}", *schedule)
    [resume_seconds] = call_seconds
    assert "resum" in capsys.readouterr().out  # it said it resumed, not started afresh
    expected, actual = checkpoint_weights(clean), checkpoint_weights(killed)
    assert expected.keys() == actual.keys() and expected
    for name in expected:
        np.testing.assert_array_equal(actual[name], expected[name], err_msg=name)
    clean_results = json.load(open(os.path.join(clean, "results.json")))
    killed_results = json.load(open(os.path.join(killed, "results.json")))
    assert clean_results["ua"] == killed_results["ua"] and clean_results["confusion"] == killed_results["confusion"]
    for key in ("steps_trained", "best_step", "best_val_score"):
        assert clean_results[key] == killed_results[key], key
    # `seconds` is the whole run's training time: the killed processes' (at least a model build,
    # a traced step and a validation) and the resuming one's, not the last process alone. The
    # resuming process adds at most its `train_and_evaluate` call's wall time and at least half
    # of it (the call only adds writing the results). The command's whole wall time is no bound:
    # on a loaded machine its start-up and exit outlasted the killed processes' training.
    assert earlier > 0.5
    assert earlier + 0.5 * resume_seconds <= killed_results["seconds"] <= earlier + resume_seconds + 0.1


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get_json(url):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def test_tensorboard_serves_losses_validation_and_confusion_image(smoke_run):
    run_dir, _ = smoke_run
    port = _free_port()
    server = subprocess.Popen(python_command("tensorboard.main", f"--logdir={run_dir}/tensorboard",
                                             "--host=127.0.0.1", f"--port={port}"),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}/data/plugin"
        deadline, scalars, images = time.time() + 90, {}, {}
        while time.time() < deadline:
            try:
                scalars = _get_json(f"{base}/scalars/tags")
                images = _get_json(f"{base}/images/tags")
                if scalars and images:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        tags = {tag for run in scalars.values() for tag in run}
        assert {"loss/support_loss", "loss/transfer_loss", "loss/query_loss",
                "validation/ua", "validation/ua_no_adapt", "validation/ua_smoothed", "test/ua",
                "test/ua_no_adapt"} <= tags, tags
        assert any("test/confusion_matrix" in run for run in images.values()), images
        run_name = next(iter(scalars))
        points = _get_json(f"{base}/scalars/scalars?run={run_name}&tag=validation/ua")
        assert [step for _, step, _ in points] == [4, 8, 9]  # --eval_every=4 of 9 steps
        assert all(0.0 <= value <= 1.0 for _, _, value in points)
    finally:
        server.kill()
        server.wait()


def test_load_trained_restores_the_best_checkpoint(smoke_run):
    from mmtl_tf import trained_model

    run_dir, _ = smoke_run
    algorithm, record = trained_model.load_trained(run_dir)
    stored = checkpoint_weights(run_dir, kind="best")
    restored = {}
    for network, model in algorithm.networks().items():
        for index, variable in enumerate(model.variables):
            restored[f"{network}/v{index:03d}/.ATTRIBUTES/VARIABLE_VALUE"] = variable.numpy()
    assert set(restored) == set(stored)
    for key, value in stored.items():
        np.testing.assert_array_equal(restored[key], value, err_msg=key)
    assert record["class_names"] == ["neu", "hap", "sad", "ang"]

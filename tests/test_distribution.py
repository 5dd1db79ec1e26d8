"""tf.distribute over speakers: 1 replica, 2 mirrored replicas and 2 workers give the same weights.

One child process (tests/distributed_steps.py `compare`) runs the one-replica reference of both
outer updates and the two mirrored replicas of `reference`: its step reduces the gradient lists
of three optimizers across replicas, some with weights an optimizer leaves alone (None), so it
takes every path that `first_order`'s single list takes, and more. The two workers of a
localhost cluster run `first_order` at the same time, each in its own process. The children
start together from one module fixture.

Weights after Adam steps cannot tell a gradient from a multiple of it (Adam divides by the
gradient's own scale), so each process also reads the gradient its first step applied (Adam's
first moment after one step is exactly 0.1 times it) and compares it with an independent
computation: the mean over speakers of each speaker's gradients, taken one speaker at a time
without any strategy. A step that summed
replicas' means, or averaged replicas' shares, would be off by the replica count there.
"""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "distributed_steps.py")
OUTER_UPDATES = ("first_order", "reference")
MIRRORED = "reference"  # the outer update run on two mirrored replicas (see above)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for probe in sockets:
        probe.bind(("127.0.0.1", 0))
    ports = [probe.getsockname()[1] for probe in sockets]
    for probe in sockets:
        probe.close()
    return ports


def _last_json_line(process):
    stdout, stderr = process.communicate(timeout=900)
    assert process.returncode == 0, stderr[-3000:]
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def runs():
    """(compare's records by outer update, the two workers' first_order records)."""
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    quiet = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    commands = [([sys.executable, SCRIPT, "compare", ",".join(OUTER_UPDATES), MIRRORED], quiet)]
    for index in range(2):
        commands.append(([sys.executable, SCRIPT, "multi_worker", "first_order"], dict(
            quiet, TF_CONFIG=json.dumps(
                {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}))))
    processes = [subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=env) for argv, env in commands]
    try:
        outputs = [_last_json_line(process) for process in processes]
    finally:
        for process in processes:
            process.kill()
    return outputs[0], outputs[1:]


def _assert_same_weights(left, right):
    assert len(left["weights"]) == len(right["weights"]) > 0
    for a, b in zip(left["weights"], right["weights"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_two_mirrored_replicas_match_one(runs):
    single, mirrored = runs[0][MIRRORED]["default"], runs[0][MIRRORED]["mirrored"]
    assert (single["replicas"], mirrored["replicas"]) == (1, 2)
    assert single["finite"] and mirrored["finite"]
    _assert_same_weights(single, mirrored)
    np.testing.assert_allclose(single["query_loss"], mirrored["query_loss"], rtol=1e-5)


def test_the_outer_updates_give_different_weights(runs):
    """Guards the comparisons: the workers' `first_order` and the mirrored `reference` are
    really two computations."""
    first_order, reference = (runs[0][name]["default"]["weights"] for name in OUTER_UPDATES)
    assert any(not np.allclose(a, b) for a, b in zip(first_order, reference))


def test_two_workers_on_localhost_match_one_process(runs):
    single = runs[0]["first_order"]["default"]
    assert [output["replicas"] for output in runs[1]] == [2, 2]
    for output in runs[1]:
        _assert_same_weights(single, output)


def _assert_step_applies_the_mean_over_speakers(record, independent):
    applied = record["applied"]
    assert len(independent) == len(applied) > 0
    assert max(np.max(np.abs(value)) for value in independent) > 1e-3  # a real update
    for expected, actual in zip(independent, applied):
        np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-6)


def test_each_replica_count_applies_the_mean_gradient_over_speakers(runs):
    """Every run starts from the same seeded weights, so each outer update's independent mean
    (computed once, beside its one-replica run) is what every replica count must apply."""
    checked = [(runs[0][name]["default"], name) for name in OUTER_UPDATES]
    checked += [(runs[0][MIRRORED]["mirrored"], MIRRORED)]
    checked += [(record, "first_order") for record in runs[1]]
    assert [record["replicas"] for record, _ in checked] == [1, 1, 2, 2, 2]
    for record, outer_update in checked:
        _assert_step_applies_the_mean_over_speakers(
            record, runs[0][outer_update]["default"]["independent"])


def _weights(run_dir):
    """The networks' weights of a run's newest `latest` checkpoint."""
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(
        os.path.join(run_dir, "checkpoints", "latest")))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if name.startswith(("meta/", "head/")) and "OPTIMIZER" not in name}


def test_main_on_two_workers_resumes_from_the_chiefs_checkpoint_and_only_the_chief_writes(
        synthetic_shards, tmp_path):
    """`main --strategy=multi_worker` as two localhost workers, resuming a run whose last
    checkpoint is step 2 of 4 (a run of one process, rolled back as a kill would leave it):
    both workers resume at step 2 with the chief's weights (a worker that started afresh
    trained other weights on other episodes, then crashed), reach the uninterrupted run's
    weights, and only the chief's run directory holds results (no worker's results.json for
    `report` to count twice, no scratch left)."""
    from conftest import REPO, SMOKE_FLAGS, run_main_in_process  # pylint: disable=import-outside-toplevel
    run_dir = str(tmp_path / "run")
    schedule = (f"--tfrecord_dir={synthetic_shards[0]}", f"--run_dir={run_dir}",
                "--train_steps=4", "--eval_every=2")
    run_main_in_process(*schedule)  # one process: the weights after step 4
    uninterrupted = _weights(run_dir)
    os.remove(os.path.join(run_dir, "results.json"))
    latest = os.path.join(run_dir, "checkpoints", "latest")
    for name in os.listdir(latest):
        if name.startswith("ckpt-4"):
            os.remove(os.path.join(latest, name))
    with open(os.path.join(latest, "checkpoint"), "w") as index:
        index.write('model_checkpoint_path: "ckpt-2"\nall_model_checkpoint_paths: "ckpt-2"\n')
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = [subprocess.Popen(
        [sys.executable, "-m", "mmtl_tf.main", f"--flagfile={SMOKE_FLAGS}", *schedule,
         "--strategy=multi_worker"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", TF_CONFIG=json.dumps(
            {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})))
        for index in range(2)]
    try:
        outputs = [process.communicate(timeout=180) for process in processes]
    finally:
        for process in processes:
            process.kill()
    for process, (stdout, stderr) in zip(processes, outputs):
        assert process.returncode == 0, stderr[-3000:]
        assert f"resuming {run_dir} after step 2" in stdout
    assert "wrote: results" in outputs[0][0] and "wrote:" not in outputs[1][0]
    assert "the chief (worker 0) writes the run" in outputs[1][0]
    resumed = _weights(run_dir)
    assert resumed.keys() == uninterrupted.keys()
    for name, value in uninterrupted.items():
        np.testing.assert_allclose(resumed[name], value, rtol=1e-4, atol=1e-6, err_msg=name)
    found = [os.path.relpath(os.path.join(root, name), run_dir)
             for root, _, names in os.walk(run_dir) for name in names if name == "results.json"]
    assert found == ["results.json"] and not os.path.exists(os.path.join(run_dir, "workers"))


@pytest.mark.parametrize("text, expected", [
    ("{bad json", "TF_CONFIG is not JSON"),
    ('{"cluster": {}, "task": {"type": "worker", "index": 0}}', "TF_CONFIG names no workers"),
    ('{"cluster": {"worker": ["host1"]}, "task": {"type": "worker", "index": 0}}',
     "is not a list of \"host:port\" addresses"),
    ('{"cluster": {"worker": ["h:1"]}}', "TF_CONFIG task None is not one of its cluster's tasks"),
    ('{"cluster": {"worker": ["h:1", "h:2"]}, "task": {"type": "worker", "index": 2}}',
     "is not one of its cluster's tasks"),
])
def test_a_bad_tf_config_is_refused_naming_it(text, expected, monkeypatch):
    from mmtl_tf import distribution  # pylint: disable=import-outside-toplevel
    with pytest.raises(ValueError, match="BUILD.md \"Scaling out\"") as raised:
        distribution.parse_tf_config(text)
    assert expected in str(raised.value)
    monkeypatch.setenv("TF_CONFIG", text)
    with pytest.raises(ValueError, match="TF_CONFIG"):
        distribution.build_strategy("multi_worker")


def test_only_multi_worker_reads_tf_config_for_the_chief(monkeypatch):
    """A TF_CONFIG left in the environment of a one-process run does not make it a worker that
    writes nothing (it used to: the run went to a scratch folder, unexported)."""
    from mmtl_tf import distribution  # pylint: disable=import-outside-toplevel
    monkeypatch.setenv("TF_CONFIG", json.dumps(
        {"cluster": {"worker": ["h:1", "h:2"]}, "task": {"type": "worker", "index": 1}}))
    assert distribution.is_chief("default") and distribution.is_chief("mirrored")
    assert not distribution.is_chief("multi_worker")
    monkeypatch.setenv("TF_CONFIG", json.dumps(
        {"cluster": {"chief": ["h:0"], "worker": ["h:1"]}, "task": {"type": "worker", "index": 0}}))
    assert not distribution.is_chief("multi_worker")

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

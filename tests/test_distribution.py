"""tf.distribute over speakers: 1 replica, 2 mirrored replicas and 2 workers give the same weights."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "distributed_steps.py")


_SINGLE = {}


def _single(outer_update):
    """The one-process reference run, computed once per outer update."""
    if outer_update not in _SINGLE:
        _SINGLE[outer_update] = _run("default", 0, outer_update)
    return _SINGLE[outer_update]


def _run(*args, env=None):
    completed = subprocess.run([sys.executable, SCRIPT, *map(str, args)], capture_output=True,
                               text=True, timeout=300, env=env)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _assert_same_weights(left, right):
    for a, b in zip(left["weights"], right["weights"]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("outer_update", ["first_order", "reference"])
def test_two_mirrored_replicas_match_one(outer_update):
    single = _single(outer_update)
    mirrored = _run("mirrored", 2, outer_update)
    assert (single["replicas"], mirrored["replicas"]) == (1, 2)
    assert single["finite"] and mirrored["finite"]
    _assert_same_weights(single, mirrored)
    np.testing.assert_allclose(single["query_loss"], mirrored["query_loss"], rtol=1e-5)


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for probe in sockets:
        probe.bind(("127.0.0.1", 0))
    ports = [probe.getsockname()[1] for probe in sockets]
    for probe in sockets:
        probe.close()
    return ports


def test_two_workers_on_localhost_match_one_process():
    single = _single("first_order")
    workers = [f"127.0.0.1:{port}" for port in _free_ports(2)]
    processes = []
    for index in range(2):
        env = dict(os.environ, TF_CONFIG=json.dumps(
            {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}))
        processes.append(subprocess.Popen([sys.executable, SCRIPT, "multi_worker", "0", "first_order"],
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    outputs = []
    try:
        for process in processes:
            stdout, stderr = process.communicate(timeout=300)
            assert process.returncode == 0, stderr[-3000:]
            outputs.append(json.loads(stdout.strip().splitlines()[-1]))
    finally:
        for process in processes:
            process.kill()
    assert [o["replicas"] for o in outputs] == [2, 2]
    for output in outputs:
        _assert_same_weights(single, output)

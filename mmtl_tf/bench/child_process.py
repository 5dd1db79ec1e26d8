"""Figures measured in a fresh process: `python -m mmtl_tf.bench --figure=<name>` prints one
JSON line, which the parent reads.

A figure needs a process of its own when what it measures is fixed when TensorFlow starts: the
logical CPU devices of `replicas`, the prepare command's thread settings of `prepare_figure`.
"""

import json
import os
import subprocess
import sys


def start_figure(figure: str, arguments, environment: dict = None) -> subprocess.Popen:
    """Starts `python -m mmtl_tf.bench --figure=<figure> ARGUMENTS` (stdout and stderr piped).

    Args:
      figure: a `--figure` value of `mmtl_tf.bench`.
      arguments: its other flags.
      environment: the child's environment (default: this process's); TensorFlow's C++ INFO
        lines are hidden in it either way.

    Returns:
      The running process, for `finish_figure`.
    """
    command = [sys.executable, "-m", "mmtl_tf.bench", f"--figure={figure}", *arguments]
    environment = dict(os.environ if environment is None else environment,
                       TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=environment)


def finish_figure(process: subprocess.Popen, figure: str, timeout: float = 3600) -> dict:
    """Waits for `start_figure`'s process and returns the record of its last JSON line.

    Raises:
      RuntimeError: the process failed or took longer than `timeout` seconds (the message
        names the figure and quotes its last error lines).
    """
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise RuntimeError(f"{figure} subprocess took more than {timeout:.0f} s") from None
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if process.returncode != 0 or not lines:
        tail = "\n".join(stderr.strip().splitlines()[-15:]) or "no output"
        raise RuntimeError(f"{figure} subprocess failed (status {process.returncode}):\n{tail}")
    return json.loads(lines[-1])

"""Figures measured in a process of their own: `python -m mmtl_tf.bench --figure=NAME`.

Some settings exist only before TensorFlow starts (logical CPU devices for the replica figure,
one inter-op thread for the steady-memory figure), so those figures run in a fresh process,
which prints its record as one JSON line.
"""

import json
import os
import subprocess
import sys


def start(figure: str, flag_arguments) -> subprocess.Popen:
    """Starts `python -m mmtl_tf.bench --figure=<figure> <flag_arguments>`.

    Returns:
      The running process, for `finish`.
    """
    command = [sys.executable, "-m", "mmtl_tf.bench", f"--figure={figure}", *flag_arguments]
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=environment)


def finish(process: subprocess.Popen, figure: str, timeout: float = 3600) -> dict:
    """Waits for a `start`ed figure process and reads its JSON line.

    Raises:
      RuntimeError: the process failed or took longer than `timeout` seconds (the message
        quotes its last error lines).
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

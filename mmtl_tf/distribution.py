"""Spreading an episode's speakers over replicas with `tf.distribute` (no home-made scheduler).

  default       one device (whatever TensorFlow places ops on: a GPU when there is one).
  mirrored      `MirroredStrategy` over the local GPUs, or over `num_cpu_devices` logical CPUs.
  multi_worker  `MultiWorkerMirroredStrategy`; the cluster comes from the TF_CONFIG variable.

Each replica receives m / replicas speakers of every episode (`split_speakers`), runs the
per-speaker stages for them, and returns gradients already divided by the global m. The training
step (`training.make_train_step`) sums them over replicas itself with
`strategy.reduce(ReduceOp.SUM)`, which gives the mean over all m speakers (Eq. 6-7), and applies
the sum once; the optimizers do no cross-replica aggregation of their own.
"""

import json
import os
import shutil

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi_worker")
_BUILT = {}  # (name, num_cpu_devices) -> the process' strategy


def configure_cpu_devices(count: int) -> None:
    """Splits the first CPU into `count` logical devices; must run before TensorFlow uses a device."""
    if count <= 1:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)])
    except RuntimeError as error:
        raise ValueError(f"--num_cpu_devices={count} must be set before TensorFlow starts "
                         f"({error})") from None


def build_strategy(name: str = "default", num_cpu_devices: int = 0) -> tf.distribute.Strategy:
    """The strategy named by --strategy (built once per process, then the same object).

    Args:
      name: "default", "mirrored" or "multi_worker".
      num_cpu_devices: with "mirrored" and no GPU, replicate over this many logical CPUs.

    Raises:
      ValueError: an unknown name, or multi_worker without a usable TF_CONFIG.
    """
    if name not in STRATEGIES:
        raise ValueError(f"--strategy={name!r}: choose one of {', '.join(STRATEGIES)}")
    if name == "default":
        return tf.distribute.get_strategy()
    # One strategy per process, shared by every fold of --fold=all and a sweep: a second
    # MultiWorkerMirroredStrategy aborted the collectives at the second fold.
    if (name, num_cpu_devices) not in _BUILT:
        _BUILT[(name, num_cpu_devices)] = _new_strategy(name, num_cpu_devices)
    return _BUILT[(name, num_cpu_devices)]


def _new_strategy(name: str, num_cpu_devices: int) -> tf.distribute.Strategy:
    """A new mirrored or multi-worker strategy (see `build_strategy`)."""
    configure_cpu_devices(num_cpu_devices)
    if name == "mirrored":
        if not tf.config.list_physical_devices("GPU") and num_cpu_devices > 1:
            return tf.distribute.MirroredStrategy(
                [f"/cpu:{index}" for index in range(num_cpu_devices)])
        return tf.distribute.MirroredStrategy()
    if "TF_CONFIG" not in os.environ:
        raise ValueError("--strategy=multi_worker needs the TF_CONFIG environment variable "
                         "(see BUILD.md, 'Scaling out')")
    parse_tf_config(os.environ["TF_CONFIG"])
    return tf.distribute.MultiWorkerMirroredStrategy()


def parse_tf_config(text: str) -> dict:
    """Reads and checks a TF_CONFIG value for --strategy=multi_worker.

    Returns:
      The parsed TF_CONFIG: a "cluster" of task types (worker, chief) with "host:port"
      addresses, and this process's "task" {"type", "index"} within it.

    Raises:
      ValueError: naming TF_CONFIG, what is wrong and how it should look.
    """
    example = ('e.g. {"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": '
               '{"type": "worker", "index": 0}} (BUILD.md "Scaling out")')
    try:
        config = json.loads(text)
    except ValueError as error:
        raise ValueError(f"TF_CONFIG is not JSON ({error}): {example}") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not any(cluster.get(kind) for kind in ("worker", "chief")):
        raise ValueError(f"TF_CONFIG names no workers (its \"cluster\" needs a \"worker\" list): "
                         f"{example}")
    for kind, addresses in cluster.items():
        if not isinstance(addresses, list) or not all(
                isinstance(address, str) and address.rpartition(":")[2].isdigit()
                for address in addresses):
            raise ValueError(f"TF_CONFIG cluster {kind!r}: {addresses!r} is not a list of "
                             f"\"host:port\" addresses: {example}")
    task = config.get("task")
    kind = task.get("type") if isinstance(task, dict) else None
    index = task.get("index") if isinstance(task, dict) else None
    if kind not in cluster or not isinstance(index, int) or not 0 <= index < len(cluster[kind]):
        raise ValueError(f"TF_CONFIG task {task!r} is not one of its cluster's tasks (a \"type\" "
                         f"of {sorted(cluster)} and an \"index\" within its list): {example}")
    return config


def is_chief(strategy_name: str = "multi_worker") -> bool:
    """True unless --strategy=multi_worker and TF_CONFIG names this process a non-chief worker
    (task index > 0, or any worker beside a "chief" task): the chief alone writes the run."""
    if strategy_name != "multi_worker":
        return True
    config = parse_tf_config(os.environ.get("TF_CONFIG", "{}") or "{}")
    task, cluster = config["task"], config["cluster"]
    if task["type"] == "chief":
        return True
    return task["type"] == "worker" and task["index"] == 0 and "chief" not in cluster


def scratch_dir(scratch_root: str) -> str:
    """Where this non-chief worker saves its own checkpoints (TensorFlow's pattern: saving is
    collective, so every worker saves; only the chief's run_dir is the run): one folder per
    task of TF_CONFIG under `scratch_root` (the run's `results_file.SCRATCH_FOLDER`), so a
    restarted worker clears what its killed predecessor left."""
    task = parse_tf_config(os.environ.get("TF_CONFIG", "{}") or "{}")["task"]
    return os.path.join(scratch_root, f"{task['type']}{task['index']}")


def remove_scratch_dir(path: str) -> None:
    """Removes a non-chief worker's `scratch_dir`, and the folder holding it once empty."""
    shutil.rmtree(path, ignore_errors=True)
    try:
        os.rmdir(os.path.dirname(path))
    except OSError:
        pass  # another worker's scratch is still there


def planned_replicas(name: str, num_cpu_devices: int = 0) -> int:
    """The replicas `build_strategy(name, num_cpu_devices)` will give, without building it (so a
    command can check every fold's episode size before writing anything)."""
    local = len(tf.config.list_physical_devices("GPU"))
    if name == "mirrored":
        return local or max(num_cpu_devices, 1)
    if name == "multi_worker" and "TF_CONFIG" in os.environ:
        cluster = parse_tf_config(os.environ["TF_CONFIG"])["cluster"]
        return max(local, 1) * sum(len(cluster.get(kind, [])) for kind in ("worker", "chief"))
    return 1


def check_divisible(strategy, speakers: int) -> None:
    """Every replica must get the same number of speakers (`strategy`: a Strategy, or its
    replica count)."""
    replicas = strategy if isinstance(strategy, int) else strategy.num_replicas_in_sync
    if speakers % replicas:
        raise ValueError(f"{speakers} speakers per episode cannot be split evenly over {replicas} "
                         f"replicas; set --speakers_per_episode to a multiple of {replicas}")


def split_speakers(strategy, episode: dict):
    """Gives replica r the speakers [r*m/R, (r+1)*m/R) of an episode (a dict of [m, ...] tensors)."""
    replicas = strategy.num_replicas_in_sync
    if replicas == 1:
        return episode
    share = int(episode["spectrogram"].shape[0]) // replicas

    def value_for(context):
        start = context.replica_id_in_sync_group * share
        return {name: value[start:start + share] for name, value in episode.items()}

    return strategy.experimental_distribute_values_from_function(value_for)


def enable_mixed_precision() -> None:
    """bfloat16 compute with float32 weights (Keras policy `mixed_bfloat16`), for GPUs and TPUs.

    bfloat16 keeps float32's exponent range, so neither the inner gradient steps of Eq. 4-5 nor
    the outer Adam step need loss scaling. On a CPU it only slows things down, so it is refused.

    Raises:
      ValueError: no GPU or TPU is visible.
    """
    import keras  # pylint: disable=import-outside-toplevel

    if not (tf.config.list_physical_devices("GPU") or tf.config.list_physical_devices("TPU")):
        raise ValueError("--mixed_precision needs a GPU or TPU (bfloat16 on a CPU is slower, not "
                         "faster); drop the flag on this machine")
    keras.mixed_precision.set_global_policy("mixed_bfloat16")

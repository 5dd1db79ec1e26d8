"""The long-run memory figure: peak resident memory of the training loop over many outer steps.

The loop is the training loop's per-step work, built from the same public pieces: one
`episodes.run_episode_dataset` for the whole run and one iterator over it, as
`training._episode_stream` reads it (issue 17.2: before, a fresh `episode_dataset` per epoch),
the `training.make_train_step` step, and a TensorBoard scalar per loss and step. What could
leak in a long run (the pipeline's buffers, retracing, summary writers, Python-side lists) runs
here as often as in training.

Besides the process's peak (VmHWM), every reading records where memory is held, so a rise says
what it is: TensorFlow's allocator (the most memory its tensors ever held at once, a peak that
depends on how the executor happened to schedule concurrent ops, so it can step up at any step)
and malloc's heap (Python objects, the libraries' own allocations: where a leak would show). A
rise that neither matches is pages of the allocator's pool touched for the first time, where its
placement put a tensor (the commands' BFC pool reserves its regions untouched and keeps what it
touched).
"""

import ctypes
import os

import numpy as np
import tensorflow as tf

from mmtl_tf import episode_plan
from mmtl_tf import episodes
from mmtl_tf import training
from mmtl_tf.bench import outer_step as outer_step_lib
from mmtl_tf.bench import plan as plan_lib
from mmtl_tf.bench import timing


def allocator_kilobytes(device: str = "CPU:0"):
    """TensorFlow's allocator on `device`: {"in_use": kB now, "peak": most kB ever in use at once},
    or None where the runtime keeps no such statistics."""
    try:
        info = tf.config.experimental.get_memory_info(device)
    except (ValueError, tf.errors.OpError):
        return None
    return {"in_use": info["current"] >> 10, "peak": info["peak"] >> 10}


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def malloc_kilobytes():
    """glibc malloc's statistics (`mallinfo2`) in kB: {"heap": obtained from the system for its
    arenas, "heap_in_use": of that, allocated, "mapped": large blocks mapped one by one}, or None
    without glibc >= 2.33."""
    try:
        mallinfo2 = ctypes.CDLL("libc.so.6").mallinfo2
    except (OSError, AttributeError):
        return None
    mallinfo2.restype = _Mallinfo2
    info = mallinfo2()
    return {"heap": info.arena >> 10, "heap_in_use": info.uordblks >> 10,
            "mapped": info.hblkhd >> 10}


def rss_growth(tfrecord_dir: str, manifest: dict, model_config, segments_per_speaker: int,
               speakers_per_episode: int, checkpoints=(25, 100, 200)) -> dict:
    """rss_growth: peak RSS (VmHWM) growth of the training loop from the first checkpoint step on.

    Args:
      tfrecord_dir, manifest: prepared shards (every speaker trains).
      model_config: the meta learner's sizes.
      segments_per_speaker, speakers_per_episode: B and m.
      checkpoints: outer steps after which memory is read; the run stops at the last.

    Returns:
      dict: `value` (VmHWM at the last checkpoint / at the first - 1), `kilobytes` (VmHWM and
      VmRSS at each checkpoint), `allocator_kilobytes` (`allocator_kilobytes` at each
      checkpoint, when available), `malloc_kilobytes` (`malloc_kilobytes` at each checkpoint,
      when available), `growth_kilobytes` (of VmHWM, the allocator's peak and malloc's heap,
      from the first checkpoint to the last), `later_growth` (VmHWM growth from the middle
      checkpoint), `epochs` (epochs the steps reached into), `datasets` (episode datasets
      built: 1, as training builds one per run), `traces` (of the step function: 1 means no
      retracing), m and B.
    """
    feature_config = outer_step_lib.experiment_config(model_config, segments_per_speaker).features
    experiment = outer_step_lib.experiment_config(model_config, segments_per_speaker,
                                                  speakers_per_episode=speakers_per_episode)
    algorithm, optimizers, _, _ = training.build_training(experiment, plan_lib.NUM_CLASSES)
    step = training.make_train_step(algorithm, optimizers, speakers_per_episode)
    speakers = sorted(manifest["speakers"])
    writer = tf.summary.create_file_writer(os.path.join(tfrecord_dir, "tensorboard"))
    checkpoints = sorted(checkpoints)
    readings, allocator, heap, done = {}, {}, {}, 0
    per_epoch = episode_plan.steps_per_epoch(manifest, speakers, segments_per_speaker)
    dataset = episodes.run_episode_dataset(tfrecord_dir, manifest, speakers, segments_per_speaker,
                                           feature_config, plan_lib.NUM_CLASSES, seed=0,
                                           start_epoch=0,
                                           speakers_per_episode=speakers_per_episode,
                                           read_parallelism=experiment.train.parallel_episode_reads)
    for episode in dataset:
        losses, finite = step(episode)
        if not bool(finite):
            raise RuntimeError(f"rss_growth: non-finite outer step {done + 1}")
        done += 1
        with writer.as_default(step=done):
            for name, value in losses.items():
                tf.summary.scalar(f"train_step/{name}", float(np.mean(value)))
        if done in checkpoints:
            readings[str(done)] = timing.memory_kilobytes()
            allocator[str(done)] = allocator_kilobytes()
            heap[str(done)] = malloc_kilobytes()
        if done == checkpoints[-1]:
            break
    writer.close()
    first, middle, last = (readings[str(step_count)]
                           for step_count in (checkpoints[0], checkpoints[len(checkpoints) // 2],
                                              checkpoints[-1]))
    first_step, last_step = str(checkpoints[0]), str(checkpoints[-1])
    growth = {"VmHWM": last["VmHWM"] - first["VmHWM"]}
    if allocator[first_step] and allocator[last_step]:
        growth["allocator_peak"] = allocator[last_step]["peak"] - allocator[first_step]["peak"]
    if heap[first_step] and heap[last_step]:
        growth["malloc_heap"] = heap[last_step]["heap"] - heap[first_step]["heap"]
    return {"value": last["VmHWM"] / first["VmHWM"] - 1.0, "kilobytes": readings,
            "allocator_kilobytes": allocator, "malloc_kilobytes": heap,
            "growth_kilobytes": growth,
            "later_growth": last["VmHWM"] / middle["VmHWM"] - 1.0,
            "epochs": -(-done // per_epoch), "datasets": 1,
            "traces": step.traced_function.experimental_get_tracing_count(),
            "speakers_per_episode": speakers_per_episode,
            "segments_per_speaker": segments_per_speaker}

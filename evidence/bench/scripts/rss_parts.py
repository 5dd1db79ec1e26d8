"""Which part of the rss_growth loop raises its peak? (tenth session, 2026-12-01; logs in
../2026-12-01-tenth-session/rss-*.log). The loop of `mmtl_tf.bench.memory.rss_growth` (demo model,
m = 2, B = 16, 8 random speakers), taken apart, printing VmHWM/VmRSS (and, from the b/c runs on,
TensorFlow's allocator: kB in use and the most ever in use) whenever VmHWM changes:
  MODE=full   the whole loop (episode pipeline, step, TensorBoard scalars)
  MODE=step   the step alone on one episode held in memory (NOSUMMARY=1: no scalars either)
  MODE=pipe   the episode pipeline alone, SLEEP seconds per episode instead of the step
  PARALLEL_SPEAKERS=1: the speaker loop one iteration at a time; STEPS=N (default 200);
  READ_PARALLELISM=N: episodes read at once (0, the default here: tf.data's autotuner, as the
  logs ran; the runs were made before --parallel_episode_reads replaced a module constant).
Run as: TF_CPU_ALLOCATOR_USE_BFC=true MODE=... python evidence/bench/scripts/rss_parts.py
  Logs from the mi-* runs on also print glibc malloc's heap (mallinfo2).
"""
import json, os, sys, tempfile, time
import numpy as np
import tensorflow as tf
from mmtl_tf import training, episodes, episode_plan
from mmtl_tf.bench import __main__ as bench_main, random_shards, outer_step, run, timing, plan as plan_lib
mode = os.environ.get("MODE", "full")
import ctypes
class _Mallinfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
_libc = ctypes.CDLL("libc.so.6")
_libc.mallinfo2.restype = _Mallinfo2
def malloc_kb():
    m = _libc.mallinfo2()
    return {"heap": m.arena >> 10, "heap_used": m.uordblks >> 10, "mmapped": m.hblkhd >> 10}
reads = int(os.environ.get("READ_PARALLELISM", "0"))  # 0: tf.data's autotuner (the default then)
steps = int(os.environ.get("STEPS", 200))
model, b, features = bench_main.preset_sizes("demo")
work = tempfile.mkdtemp(prefix="rss_")
d = os.path.join(work, "memory-shards")
fc = outer_step.experiment_config(model, b).features
manifest = random_shards.write_random_shards(d, run.MEMORY_SPEAKERS, 4 * b, fc)
experiment = outer_step.experiment_config(model, b, speakers_per_episode=2)
if os.environ.get("PARALLEL_SPEAKERS"):
    import dataclasses
    experiment = dataclasses.replace(experiment, train=dataclasses.replace(
        experiment.train, parallel_speakers=int(os.environ["PARALLEL_SPEAKERS"])))
print("parallel_speakers", experiment.train.parallel_speakers)
speakers = sorted(manifest["speakers"])
dataset = episodes.run_episode_dataset(d, manifest, speakers, b, fc, plan_lib.NUM_CLASSES, seed=0,
                                       start_epoch=0, speakers_per_episode=2,
                                       read_parallelism=reads)
print("mode", mode, "READ_PARALLELISM", reads, timing.memory_kilobytes(), flush=True)
t = time.perf_counter()
if mode != "pipe":
    algorithm, optimizers, _, _ = training.build_training(experiment, plan_lib.NUM_CLASSES)
    step = training.make_train_step(algorithm, optimizers, 2)
    writer = tf.summary.create_file_writer(os.path.join(d, "tensorboard"))
if mode == "step":
    fixed = next(iter(dataset))
    del dataset
    source = (fixed for _ in range(steps))
else:
    source = iter(dataset)
last = 0
for done in range(1, steps + 1):
    episode = next(source)
    if mode == "pipe":
        time.sleep(float(os.environ.get("SLEEP", "0.3")))
    else:
        losses, finite = step(episode)
        if os.environ.get("NOSUMMARY"):
            finite.numpy()
        else:
          with writer.as_default(step=done):
            for name, value in losses.items():
              tf.summary.scalar(f"train_step/{name}", float(np.mean(value)))
    m = timing.memory_kilobytes()
    info = tf.config.experimental.get_memory_info("CPU:0")
    m["pool_cur_kB"], m["pool_peak_kB"] = info["current"] >> 10, info["peak"] >> 10
    m.update(malloc_kb())
    if m["VmHWM"] != last or done in (25, 100, 200):
        print(f"step {done} {time.perf_counter() - t:.0f}s {m}", flush=True)
        last = m["VmHWM"]

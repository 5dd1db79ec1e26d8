"""rss_growth alone (mmtl_tf.bench.memory), as mmtl_tf.bench runs it for the demo preset, printing
VmHWM/VmRSS every 25 steps so a cut run still reports.

Usage (2026-11-30, third session; output in ../2026-11-30-third-session/rss_growth_quiet_ab.txt):
  python evidence/bench/scripts/rss_growth_alone.py            # steps 25,100,200
  MALLOC_ARENA_MAX=2 python evidence/bench/scripts/rss_growth_alone.py
Sixth session (outputs in ../2026-11-30-sixth-session/rss-*.log): EVERY_STEP=1 prints a reading after
every step; TF_CPU_ALLOCATOR_USE_BFC=true [TF_NUM_INTEROP_THREADS=1] [READ_PARALLELISM=2] as the logs say.
Tenth session: READ_PARALLELISM=N sets `TrainConfig.parallel_episode_reads` (0: tf.data's
autotuner, the default until then; 1 is the default since); before, it set the module constant
`episodes.READ_PARALLELISM` that the flag replaced.
Eleventh session: JIT=1 compiles the step with XLA (`JIT=1 EVERY_STEP=1 python
rss_growth_alone.py 25,100,200`, cut after step 10; ../2026-12-01-eleventh-session/
rss-xla-demo-cut.log: run as a plain script, so TensorFlow's default host allocator served it).
Thirteenth session: WARM_AT=3 WARM_MB=64 (or WARM_FRACTION=0.25 of the allocator's peak) fills
and frees a block of that size after step 3 (run with TF_CPU_ALLOCATOR_USE_BFC=true, as the
commands do; ../2026-12-01-thirteenth-session/rss-warm64-cut-run*.log).
Fourteenth session: SYNC_PIPELINE=1 reads each episode in the caller's thread when the step
asks for it (maps sequential, no prefetch, tf.data's autotuner and injected prefetch off), so
with PARALLEL_SPEAKERS=1 TF_NUM_INTEROP_THREADS=1 nothing allocates beside the step's ops in order
(../2026-12-02-fourteenth-session/rss-sync-*.log). The STEADY=1 hook of steady_speed_ab.sh (the
loop as the reverted --steady_memory ran it) exists only in this script at commit 5932ab7.
Fifteenth session: SMAPS=1 reads /proc/self/smaps after every step and, where VmHWM rose, prints
the mappings whose resident kB grew since the step before (anonymous regions by address, files by
path) with RssAnon/RssFile, so a rise says whether it is the pool's pages, malloc's, thread stacks
or code faulted in (../2026-12-02-fifteenth-session/rss-smaps-*.log).
Sixteenth session: GC_EACH_STEP=1 runs Python's collector after every step and prints what it
found (objects in reference cycles, which otherwise free their tensors whenever the collector
next runs) with the reading (../2026-12-02-sixteenth-session/rss-gc-*.log).
Seventh session: PARALLEL_SPEAKERS=1 runs the speaker loop one iteration at a time
(`--parallel_speakers`; the log was made with the same setting through an environment hook in a
clone of 16b22fb's parent, `rss-bfc-parallel-speakers-1.log`).
"""
import json, os, sys, tempfile, time
import mmtl_tf
from mmtl_tf import training, episodes
from mmtl_tf.bench import __main__ as bench_main, memory, random_shards, outer_step, run, timing
_overrides = {name: int(os.environ[variable]) for variable, name in
              (("PARALLEL_SPEAKERS", "parallel_speakers"),
               ("READ_PARALLELISM", "parallel_episode_reads")) if os.environ.get(variable)}
if _overrides:
    import dataclasses
    _config = outer_step.experiment_config
    def _with_overrides(*args, **kwargs):
        experiment = _config(*args, **kwargs)
        return dataclasses.replace(experiment, train=dataclasses.replace(experiment.train,
                                                                         **_overrides))
    outer_step.experiment_config = _with_overrides
if os.environ.get("SYNC_PIPELINE"):  # the episodes read in the caller's thread, nothing ahead
    import tensorflow as tf
    _map, _iter = tf.data.Dataset.map, tf.data.Dataset.__iter__
    tf.data.Dataset.map = lambda self, fn, num_parallel_calls=None, deterministic=None, name=None: _map(self, fn)
    tf.data.Dataset.prefetch = lambda self, buffer_size, name=None: self
    def _iter_sync(self):
        options = tf.data.Options()
        options.autotune.enabled = False
        options.experimental_optimization.inject_prefetch = False
        return _iter(self.with_options(options))
    tf.data.Dataset.__iter__ = _iter_sync
print("mmtl_tf from", mmtl_tf.__file__, "overrides", _overrides,
      "sync pipeline" if os.environ.get("SYNC_PIPELINE") else "", flush=True)
model, b, features = bench_main.preset_sizes(os.environ.get("PRESET", "demo"))  # PRESET=paper: its model and B
steps = tuple(int(s) for s in (sys.argv[1].split(",") if len(sys.argv) > 1 else (25, 100, 200)))
work = tempfile.mkdtemp(prefix="rss_")
d = os.path.join(work, "memory-shards")
manifest = random_shards.write_random_shards(d, run.MEMORY_SPEAKERS, 4 * b,
                                             outer_step.experiment_config(model, b).features)
t = time.perf_counter()
make = training.make_train_step
def counted(*args, **kwargs):
    if os.environ.get("JIT"):
        kwargs["jit_compile"] = True
    inner = make(*args, **kwargs)
    count = [0]
    def step(episode):
        out = inner(episode)
        count[0] += 1
        if os.environ.get("GC_EACH_STEP"):
            import gc
            found = gc.collect()
            if found or count[0] <= 30:
                print(f"gc after step {count[0]}: {found} unreachable", flush=True)
        if os.environ.get("WARM_AT") and count[0] == int(os.environ["WARM_AT"]):
            warm_pool()
        if os.environ.get("SMAPS"):
            smaps_report(count[0])
        if os.environ.get("EVERY_STEP") or count[0] % 25 == 0 or count[0] in (1, 5, 10):
            print(f"step {count[0]} {time.perf_counter() - t:.0f}s {timing.memory_kilobytes()}", flush=True)
        return out
    step.traced_function = inner.traced_function
    return step
training.make_train_step = counted
_smaps = {"hwm": 0, "maps": {}}
def smaps_snapshot():
    maps, key = {}, None
    with open("/proc/self/smaps") as handle:
        for line in handle:
            first = line.split()
            if first and "-" in first[0] and not first[0].endswith(":"):
                key = first[0] + " " + (first[5] if len(first) > 5 else "[anon]")
            elif first and first[0] == "Rss:":
                maps[key] = int(first[1])
    return maps
def smaps_report(step):
    status = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            name, _, value = line.partition(":")
            if name in ("VmHWM", "VmRSS", "RssAnon", "RssFile", "RssShmem", "Threads"):
                status[name] = int(value.split()[0])
    maps = smaps_snapshot()
    if status["VmHWM"] > _smaps["hwm"] and _smaps["maps"]:
        old = _smaps["maps"]
        grown = sorted(((maps[k] - old.get(k, 0), k) for k in maps if maps[k] != old.get(k, 0)),
                       reverse=True)
        gone = sum(v for k, v in old.items() if k not in maps)
        print(f"HWM step {step} +{status['VmHWM'] - _smaps['hwm']} kB {status} grown:",
              "; ".join(f"{d:+d} {k}" for d, k in grown[:6]), f"unmapped {gone} kB",
              "allocator", memory.allocator_kilobytes(), "malloc", memory.malloc_kilobytes(),
              flush=True)
    _smaps["hwm"], _smaps["maps"] = status["VmHWM"], maps
def warm_pool():  # WARM_MB or WARM_FRACTION (of the allocator's peak): touch and free that block
    import tensorflow as tf
    peak = memory.allocator_kilobytes()["peak"] << 10
    size = (int(os.environ["WARM_MB"]) << 20 if os.environ.get("WARM_MB")
            else int(float(os.environ["WARM_FRACTION"]) * peak))
    with tf.device("/CPU:0"):
        block = tf.ones([size], tf.uint8)
        del block
    print("warmed", size >> 20, "MB at allocator peak", peak >> 20, "MB", timing.memory_kilobytes(), flush=True)
if os.environ.get("RESERVE_MB"):  # touch and free a block first, so the host pool starts that large
    import tensorflow as tf
    with tf.device("/CPU:0"):
        block = tf.ones([int(os.environ["RESERVE_MB"]) << 20], tf.uint8)
        del block
    print("reserved", os.environ["RESERVE_MB"], "MB", timing.memory_kilobytes(), flush=True)
rec = memory.rss_growth(d, manifest, model, b, 2, steps)
rec["wall_seconds"] = time.perf_counter() - t
print(json.dumps(timing.rounded(rec), indent=1), flush=True)

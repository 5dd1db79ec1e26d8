"""Usage (2026-11-30, fourth session; allocator_speed_ab.sh runs it under each allocator):
  [MALLOC_MMAP_THRESHOLD_=131072 | TF_CPU_ALLOCATOR_USE_BFC=true] python evidence/bench/scripts/speed_env.py [STEPS]

Median outer-step seconds of the rss_growth loop's step (demo model, m=2, B=16) on one random episode."""
import json, os, statistics, sys, time
from mmtl_tf.bench import __main__ as bench_main, outer_step
model, b, _ = bench_main.preset_sizes("demo")
st = outer_step.build_outer_step(model, 2, b)
for _ in range(3): st.run()
ts = []
for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 15):
    t = time.perf_counter(); st.run(); ts.append(time.perf_counter() - t)
print(json.dumps({"env": {k: os.environ.get(k) for k in ("MALLOC_MMAP_THRESHOLD_", "TF_CPU_ALLOCATOR_USE_BFC")},
                  "median": round(statistics.median(ts), 4), "min": round(min(ts), 4)}))

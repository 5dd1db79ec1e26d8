"""Median outer-step seconds of one preset's MMTL step on a random m x B episode; run with and without
TF_NUM_INTEROP_THREADS=1 (tenth session; output ../2026-12-01-tenth-session/interop_speed.txt).
Usage: TF_CPU_ALLOCATOR_USE_BFC=true python evidence/bench/scripts/speed_interop.py paper 4 32 4
"""
import json, os, statistics, sys, time
from mmtl_tf.bench import __main__ as bench_main, outer_step
preset, m, b, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
model, _, _ = bench_main.preset_sizes(preset)
st = outer_step.build_outer_step(model, m, b)
for _ in range(2): st.run()
ts = []
for _ in range(n):
    t = time.perf_counter(); st.run(); ts.append(time.perf_counter() - t)
print(json.dumps({"preset": preset, "interop": os.environ.get("TF_NUM_INTEROP_THREADS"), "median": round(statistics.median(ts), 4)}))

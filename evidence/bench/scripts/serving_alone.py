"""serving_rtf alone, as mmtl_tf.bench runs it (paper preset).

Usage (2026-11-30, fourth session; output ../2026-11-30-fourth-session/serving_rtf_alone.json):
  TF_CPU_ALLOCATOR_USE_BFC=true python evidence/bench/scripts/serving_alone.py
"""
import json, sys, tempfile
from mmtl_tf.bench import __main__ as bench_main, plan as plan_lib, serving, timing
model_config, _, features = bench_main.preset_sizes("paper")
d = plan_lib.BenchPlan.__dataclass_fields__
rec = serving.serving_rtf(model_config, features, tempfile.mkdtemp(prefix="serving_"),
                          d["serving_batch_sizes"].default, d["serving_seconds"].default, True)
print(json.dumps(timing.rounded(rec), indent=1))

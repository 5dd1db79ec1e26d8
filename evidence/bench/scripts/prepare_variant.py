"""prepare_phases.py under a tf.data variant: VARIANT=fixed2 (the wav-loading map at 2 parallel calls
instead of AUTOTUNE) or VARIANT=autotune_off (tf.data autotuning disabled in the stream's options).

Usage (2026-11-30, fourth session; output ../2026-11-30-fourth-session/prepare_phases.txt):
  VARIANT=autotune_off TF_CPU_ALLOCATOR_USE_BFC=true python evidence/bench/scripts/prepare_variant.py
"""
import os, runpy
import tensorflow as tf
v = os.environ.get("VARIANT", "base")
if v == "fixed2":
    tf.data.AUTOTUNE = 2
elif v == "autotune_off":
    orig = tf.data.Dataset.with_options
    def with_options(self, options, name=None):
        options.autotune.enabled = False
        return orig(self, options, name)
    tf.data.Dataset.with_options = with_options
print("variant", v, flush=True)
runpy.run_path("evidence/bench/scripts/prepare_phases.py", run_name="__main__")

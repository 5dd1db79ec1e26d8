"""Usage (2026-11-30, fourth session; output ../2026-11-30-fourth-session/rss-autotune-off.log):
  AUTOTUNE_OFF=1 READ_PARALLELISM=1 python evidence/bench/scripts/rss_variant.py

rss_growth_alone with the read map at a fixed parallelism and tf.data autotuning off (env AUTOTUNE_OFF=1)."""
import os, runpy, sys
import tensorflow as tf
from mmtl_tf import episodes
orig = episodes._read_episodes
def patched(*args, **kwargs):
    ds = orig(*args, **kwargs)
    if os.environ.get("AUTOTUNE_OFF") == "1":
        options = tf.data.Options()
        options.autotune.enabled = False
        ds = ds.with_options(options)
    return ds
episodes._read_episodes = patched
sys.argv = ["x"] + sys.argv[1:]
runpy.run_path("evidence/bench/scripts/rss_growth_alone.py", run_name="__main__")

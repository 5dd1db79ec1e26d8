"""The feature call that feature_stage_cost.py and framing_variants.py time: paper features, one
intra- and one inter-op thread (set on import, before TensorFlow starts), and 4 utterances of
seeded noise, 22.3 s in all, as one call's inputs (`samples`, `num`)."""
import numpy as np, tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
from mmtl_tf.bench import __main__ as bm
_, _, cfg = bm.preset_sizes("paper")
rng = np.random.default_rng(0)
lens = [int(cfg.sample_rate * s) for s in (4.1, 6.3, 2.7, 9.2)]
samples = tf.constant(rng.standard_normal(sum(lens)).astype(np.float32) * 0.1)
num = tf.constant(lens, tf.int64)

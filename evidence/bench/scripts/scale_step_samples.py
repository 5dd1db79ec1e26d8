"""(b) of corpus_scale alone, like `scale_step_alone.py`, printing every steady step's seconds per
size (sorted; the rows 0, 1, 2 are 10, 100 and 1,000 speakers) beside the medians, to see how
much one median of N steps can move.

Usage (2026-12-02, fifteenth session; output ../2026-12-02-fifteenth-session/scale_step_samples.txt):
  TF_CPU_ALLOCATOR_USE_BFC=true python evidence/bench/scripts/scale_step_samples.py [EPOCHS]
"""
import os, sys, tempfile, statistics, time
from mmtl_tf.bench import corpus_scale as cs, plan as plan_lib, random_shards, outer_step as outer_step_lib
from mmtl_tf import training
from mmtl_tf.bench import __main__ as bm
mc, b, f = bm.preset_sizes('paper'); smc, sb, sf = bm.preset_sizes('demo')
plan = plan_lib.make_plan('paper', mc, b, smc, sb, f, sf)
epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 25
B = plan.scale_segments_per_speaker
experiment = outer_step_lib.experiment_config(plan.small_model_config, B, feature_config=plan.small_features)
algorithm, optimizers, _, _ = training.build_training(experiment, plan_lib.NUM_CLASSES)
step = training.make_train_step(algorithm, optimizers, cs.SPEAKERS_PER_EPISODE)
work = tempfile.mkdtemp()
shards_of = {}
for count in (10, 100, 1000):
    d = os.path.join(work, f"s{count}")
    shards_of[count] = (d, random_shards.write_random_shards(d, count, 2 * B, experiment.features))
# record every steady step
orig_median = statistics.median
samples = {}
def spy(values):
    samples.setdefault(len(samples), list(values)); return orig_median(values)
cs.statistics.median = spy
out = cs._interleaved_step_seconds(step, shards_of, experiment.features, B, epochs)
print({c: round(v["step_seconds"], 4) for c, v in out.items()})
for i, v in samples.items():
    v = sorted(v); print(i, [round(x, 3) for x in v])

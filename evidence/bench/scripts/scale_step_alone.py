"""(b) of corpus_scale alone, as `python -m mmtl_tf.bench` measures it: the outer step (demo model,
speakers_per_episode=8, B=4) on random shards of 10, 100 and 1,000 speakers, the sizes taking
turns epoch by epoch (`corpus_scale._interleaved_step_seconds`).

Usage (2026-11-30, fourth session; output in ../2026-11-30-fourth-session/scale_step_interleaved.txt):
  python evidence/bench/scripts/scale_step_alone.py [EPOCHS]
Fifteenth session (2026-12-02): SAMPLES=1 also prints every steady step's seconds per size,
sorted, to see how far one median of EPOCHS steps can move (output
../2026-12-02-fifteenth-session/scale_step_samples.txt, made by a separate copy of this script
that printed the medians as a dict and each size's samples on a line numbered 0, 1, 2).
"""
import json, os, shutil, sys, tempfile, time
from mmtl_tf import training
from mmtl_tf.bench import __main__ as bench_main, corpus_scale, plan as plan_lib, random_shards, outer_step, timing
epochs = int(sys.argv[1]) if len(sys.argv) > 1 else plan_lib.BenchPlan.__dataclass_fields__["scale_steps"].default
model, _, features = bench_main.preset_sizes("demo")
b = plan_lib.BenchPlan.__dataclass_fields__["scale_segments_per_speaker"].default
experiment = outer_step.experiment_config(model, b, feature_config=features)
algorithm, optimizers, _, _ = training.build_training(experiment, plan_lib.NUM_CLASSES)
step = training.make_train_step(algorithm, optimizers, corpus_scale.SPEAKERS_PER_EPISODE)
work = tempfile.mkdtemp(prefix="scale_step_")
shards_of = {}
for count in (10, 100, 1000):
    directory = os.path.join(work, str(count))
    shards_of[count] = (directory, random_shards.write_random_shards(directory, count, 2 * b, experiment.features))
samples = {}
if os.environ.get("SAMPLES"):  # every list the medians are taken of: the steady steps, by size
    _median = corpus_scale.statistics.median
    def _recording_median(values):
        samples[sorted(shards_of)[len(samples)]] = sorted(round(v, 3) for v in values)
        return _median(values)
    corpus_scale.statistics.median = _recording_median
started = time.perf_counter()
timed = corpus_scale._interleaved_step_seconds(step, shards_of, experiment.features, b, epochs)
steps = {count: row["step_seconds"] for count, row in timed.items()}
print(json.dumps({"epochs": epochs, "rows": timing.rounded(timed),
                  "scale_step": round(max(steps.values()) / min(steps.values()), 4),
                  "seconds": round(time.perf_counter() - started), **({"samples": samples} if samples else {})},
                 indent=1))
shutil.rmtree(work)

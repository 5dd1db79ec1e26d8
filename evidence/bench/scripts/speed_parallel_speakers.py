"""Outer-step seconds with the MMTL speaker loop's parallel_iterations at 1 and at 10 (the default),
both built in one process and alternated round by round (tenth session; output
../2026-12-01-tenth-session/parallel_speakers_speed_ab.txt).
Usage: TF_CPU_ALLOCATOR_USE_BFC=true python evidence/bench/scripts/speed_parallel_speakers.py demo 2 16 21
"""
import dataclasses, json, statistics, sys, time
from mmtl_tf import training
from mmtl_tf.bench import __main__ as bench_main, outer_step, plan as plan_lib
preset, m, b, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
model, _, _ = bench_main.preset_sizes(preset)
steps = {}
for ps in (1, 10):
    exp = outer_step.experiment_config(model, b)
    exp = dataclasses.replace(exp, train=dataclasses.replace(exp.train, parallel_speakers=ps))
    algorithm, optimizers, _, _ = training.build_training(exp, plan_lib.NUM_CLASSES)
    step = training.make_train_step(algorithm, optimizers, m)
    episode = outer_step.random_episode(m, b, model)
    for _ in range(2): step(episode)[1].numpy()
    steps[ps] = (step, episode)
times = {1: [], 10: []}
for r in range(rounds):
    for ps in ((1, 10) if r % 2 == 0 else (10, 1)):
        step, episode = steps[ps]
        t = time.perf_counter(); step(episode)[1].numpy(); times[ps].append(time.perf_counter() - t)
med = {ps: statistics.median(v) for ps, v in times.items()}
print(json.dumps({"preset": preset, "m": m, "B": b, "median": med, "ratio_1_over_10": med[1] / med[10],
                  "times": {k: [round(x, 3) for x in v] for k, v in times.items()}}))

"""scale_prepare with R rotating rounds per size, as `corpus_scale._prepare_seconds` times them, and the
spread the first 5 and 3 rounds would have given (tenth session; output
../2026-12-01-tenth-session/scale_prepare_rounds.txt).
Usage: python evidence/bench/scripts/scale_prepare_rounds.py 11
"""
import json, statistics, sys, tempfile
from mmtl_tf import audio
from mmtl_tf.bench import __main__ as bench_main, corpus_scale, data_figures, plan as plan_lib
fields = plan_lib.BenchPlan.__dataclass_fields__
_, _, features = bench_main.preset_sizes("demo")
work = tempfile.mkdtemp(prefix="scale_rounds_")
listing = data_figures.synthetic_corpus(work, fields["corpus_utterances"].default,
                                        fields["corpus_max_seconds"].default, features)[0]
rounds = int(sys.argv[1])
sizes = [10, 100, 1000]
seconds = corpus_scale._prepare_seconds(listing, sizes, 1000, features, work, rounds)
def spread(k):
    med = [statistics.median(seconds[s][:k]) for s in sizes]
    return round(max(med) / min(med), 3)
print(json.dumps({"rounds": rounds, f"spread_{rounds}": spread(rounds), "spread_5": spread(5), "spread_3": spread(3),
                  "seconds": {s: [round(x, 3) for x in v] for s, v in seconds.items()}}), flush=True)

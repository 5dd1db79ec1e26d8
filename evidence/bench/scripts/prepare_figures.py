"""prepare_speedup and prepare_speedup_one_core alone, as mmtl_tf.bench runs them (paper preset).

Usage (2026-11-30, third session; the JSON outputs are in ../2026-11-30-third-session/):
  /work/exp/quiet_run.sh nice -n -10 python evidence/bench/scripts/prepare_figures.py 5 profile
  (PYTHONPATH chose the code: the tree before and after the change, alternated.)
Sixteenth session (2026-12-02): THREADS="intra,inter" sets TensorFlow's thread pools before it
starts (inter -1: a function's ops run in the calling thread), e.g.
  THREADS=1,-1 TF_CPU_ALLOCATOR_USE_BFC=true python evidence/bench/scripts/prepare_figures.py 5
Seventeenth session (2026-12-02; outputs ../2026-12-02-seventeenth-session/prepare_figures-*.json):
THREADS=1,2 against no setting, alternated, default first; then, on cc072cb, the variable the
prepare command sets:
  TF_NUM_INTRAOP_THREADS=1 TF_CPU_ALLOCATOR_USE_BFC=true python evidence/bench/scripts/prepare_figures.py 5
(and once with 10 rounds, prepare_figures-cc072cb-intra1-10rounds.json).
"""
import json, os, sys, tempfile, time
import tensorflow as tf
if os.environ.get("THREADS"):
    intra, inter = (int(x) for x in os.environ["THREADS"].split(","))
    tf.config.threading.set_intra_op_parallelism_threads(intra)
    tf.config.threading.set_inter_op_parallelism_threads(inter)
import mmtl_tf
from mmtl_tf.bench import __main__ as bench_main
from mmtl_tf.bench import data_figures, plan as plan_lib, timing

def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    profile = len(sys.argv) > 2 and sys.argv[2] == "profile"
    print("code:", mmtl_tf.__file__, file=sys.stderr)
    model_config, segments, features = bench_main.preset_sizes("paper")
    defaults = plan_lib.BenchPlan.__dataclass_fields__
    utterances = defaults["corpus_utterances"].default
    max_seconds = defaults["corpus_max_seconds"].default
    work_dir = tempfile.mkdtemp(prefix="prep_bench_")
    started = time.perf_counter()
    listing, _, _ = data_figures.synthetic_corpus(work_dir, utterances, max_seconds, features)
    record = data_figures.prepare_speedup(listing, features, work_dir, rounds, profile)
    record["total_seconds"] = time.perf_counter() - started
    print(json.dumps(timing.rounded(record), indent=1))
    print(f"THREADS={os.environ.get('THREADS', 'default')} prepare_speedup {record['value']:.3f}  prepare_speedup_one_core {record['one_core']['value']:.3f}")

if __name__ == "__main__":
    main()

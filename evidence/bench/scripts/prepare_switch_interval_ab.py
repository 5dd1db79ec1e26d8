"""prepare_corpus rounds alternating Python's GIL switch interval (sys.setswitchinterval), one
process, bench corpus. Seventeenth session (2026-12-02; ../2026-12-02-seventeenth-session/threads_ab.txt):
  TF_CPU_ALLOCATOR_USE_BFC=true python evidence/bench/scripts/prepare_switch_interval_ab.py 0.005,0.0005,0.0001 8
"""
import contextlib, io, os, shutil, statistics, sys, tempfile, time
from mmtl_tf.bench import __main__ as bench_main, data_figures
from mmtl_tf import preparation
_, _, feats = bench_main.preset_sizes("paper")
work = tempfile.mkdtemp(prefix="prep_sw_")
listing = data_figures.synthetic_corpus(work, 48, 10.0, feats)[0]
values = [float(v) for v in sys.argv[1].split(",")]
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 8
res = {v: [] for v in values}; cpu = {v: [] for v in values}
for r in range(rounds + 1):
    for v in (values if r % 2 == 0 else values[::-1]):
        sys.setswitchinterval(v)
        out = os.path.join(work, "p")
        t = time.perf_counter(); c = time.process_time()
        with contextlib.redirect_stdout(io.StringIO()):
            preparation.prepare_corpus(listing, feats, out, show_progress=False)
        if r: res[v].append(time.perf_counter() - t); cpu[v].append(time.process_time() - c)
        shutil.rmtree(out)
for v in values:
    print(f"switch {v}: wall median {statistics.median(res[v]):.3f} [{min(res[v]):.3f}-{max(res[v]):.3f}] cpu median {statistics.median(cpu[v]):.3f}")

"""CPU timeline of prepare_corpus rounds on the bench corpus (480 files, paper features): cores
busy per ~20 ms slice (/proc/self/stat, 10 ms clock ticks), with the stream's and the commit's
marks. Seventeenth session (2026-12-02; output in ../2026-12-02-seventeenth-session/threads_ab.txt):
  TF_CPU_ALLOCATOR_USE_BFC=true python evidence/bench/scripts/prepare_cpu_timeline.py
"""
import contextlib, io, os, shutil, sys, tempfile, threading, time
from mmtl_tf.bench import __main__ as bench_main, data_figures
from mmtl_tf import preparation, preparation_stream, tfrecord_dir, done_records
_, _, feats = bench_main.preset_sizes("paper")
work = tempfile.mkdtemp(prefix="prep_tl_")
listing = data_figures.synthetic_corpus(work, 48, 10.0, feats)[0]
marks = []
def mark(name): marks.append((time.perf_counter(), name))
orig_stream = preparation_stream.feature_stream
def stream(*a, **k):
    mark("stream_start"); first = True
    for item in orig_stream(*a, **k):
        if first: mark("first_item"); first = False
        yield item
    mark("last_item")
preparation_stream.feature_stream = stream
orig_commit = tfrecord_dir.commit
def commit(*a, **k):
    mark("commit_start"); r = orig_commit(*a, **k); mark("commit_end"); return r
tfrecord_dir.commit = commit
samples = []; stop = False
def sampler():
    tick = os.sysconf("SC_CLK_TCK")
    while not stop:
        with open("/proc/self/stat") as f: p = f.read().split(")")[1].split()
        samples.append((time.perf_counter(), (int(p[11]) + int(p[12])) / tick))
        time.sleep(0.01)
th = threading.Thread(target=sampler, daemon=True); th.start()
for r in range(4):
    out = os.path.join(work, f"p{r}")
    marks.clear(); mark("start")
    with contextlib.redirect_stdout(io.StringIO()):
        preparation.prepare_corpus(listing, feats, out, show_progress=False)
    mark("end")
    t0 = marks[0][0]
    print(f"round {r}: " + " ".join(f"{n}={t-t0:.3f}" for t, n in marks))
    if r >= 2:
        sl = [(t, c) for t, c in samples if t0 - 0.05 <= t <= marks[-1][0] + 0.05]
        line = []
        for i in range(0, len(sl) - 2, 2):
            (ta, ca), (tb, cb) = sl[i], sl[i + 2]
            line.append(f"{ta-t0:.2f}:{(cb-ca)/(tb-ta):.1f}")
        print("  busy:", " ".join(line))
    shutil.rmtree(out)
stop = True

"""prepare_corpus in phases, 6 rounds on the bench corpus (480 files, paper features): wall and CPU
seconds, time to the stream's first item, from first to last item, and after it (the os.sync).

Usage (2026-11-30, fourth session; output ../2026-11-30-fourth-session/prepare_phases.txt):
  TF_CPU_ALLOCATOR_USE_BFC=true python evidence/bench/scripts/prepare_phases.py
"""
import os, time, tempfile, shutil, io, contextlib
from mmtl_tf.bench import __main__ as bench_main, data_figures
from mmtl_tf import preparation, tfrecord_dir
_, _, feats = bench_main.preset_sizes("paper")
work = tempfile.mkdtemp(prefix="prep_phases_")
listing = data_figures.synthetic_corpus(work, 48, 10.0, feats)[0]
marks = {}
orig_sync = os.sync
def timed_sync():
    t = time.perf_counter(); orig_sync(); marks["sync"] = time.perf_counter() - t
tfrecord_dir.os.sync = timed_sync
orig_stream = preparation.feature_stream
def stream(*a, **k):
    marks["stream_built"] = time.perf_counter()
    first = True
    for item in orig_stream(*a, **k):
        if first:
            marks["first"] = time.perf_counter(); first = False
        yield item
    marks["last"] = time.perf_counter()
preparation.feature_stream = stream
for r in range(6):
    out = os.path.join(work, f"p{r}")
    t0 = time.perf_counter(); c0 = time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        preparation.prepare_corpus(listing, feats, out, show_progress=False)
    t1 = time.perf_counter()
    print(f"round {r}: wall {t1-t0:.2f} cpu {time.process_time()-c0:.2f} | to stream {marks['stream_built']-t0:.2f} "
          f"first item +{marks['first']-marks['stream_built']:.2f} last item +{marks['last']-marks['first']:.2f} "
          f"after stream {t1-marks['last']:.2f} (sync {marks['sync']:.2f})", flush=True)
    shutil.rmtree(out)

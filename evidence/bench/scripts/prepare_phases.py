"""prepare_corpus in phases, 6 rounds back to back on the bench corpus (480 files, paper features):
wall and CPU seconds, time to the stream's first item, from first to last item, and after it.
An optional JSON argument passes keyword arguments to `preparation_stream.feature_stream`
(e.g. '{"workers": 4}' or '{"utterances_per_call": 8}').

Usage (2026-11-30, fourth session; output ../2026-11-30-fourth-session/prepare_phases.txt; the
stream was then a tf.data pipeline called as `preparation.feature_stream`, and the commit ended
in `os.sync`, timed apart):
  TF_CPU_ALLOCATOR_USE_BFC=true python evidence/bench/scripts/prepare_phases.py
Fifteenth session (2026-12-02; output ../2026-12-02-fifteenth-session/prepare_rounds_warm.txt):
the stream is `preparation_stream.feature_stream`, no `os.sync` is left to time, and the
argument above was added:
  TF_CPU_ALLOCATOR_USE_BFC=true python evidence/bench/scripts/prepare_phases.py '{"workers": 4}'
"""
import contextlib, io, json, os, shutil, sys, tempfile, time
from mmtl_tf.bench import __main__ as bench_main, data_figures
from mmtl_tf import preparation, preparation_stream
_, _, feats = bench_main.preset_sizes("paper")
work = tempfile.mkdtemp(prefix="prep_phases_")
listing = data_figures.synthetic_corpus(work, 48, 10.0, feats)[0]
marks = {}
EXTRA = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
orig_stream = preparation_stream.feature_stream
def stream(*a, **k):
    k.update(EXTRA)
    marks["stream_built"] = time.perf_counter()
    first = True
    for item in orig_stream(*a, **k):
        if first:
            marks["first"] = time.perf_counter(); first = False
        yield item
    marks["last"] = time.perf_counter()
preparation_stream.feature_stream = stream
for r in range(6):
    out = os.path.join(work, f"p{r}")
    t0 = time.perf_counter(); c0 = time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        preparation.prepare_corpus(listing, feats, out, show_progress=False)
    t1 = time.perf_counter()
    print(f"round {r}: wall {t1-t0:.3f} cpu {time.process_time()-c0:.2f} | to stream {marks['stream_built']-t0:.3f} "
          f"first item +{marks['first']-marks['stream_built']:.3f} last item +{marks['last']-marks['first']:.3f} "
          f"after stream {t1-marks['last']:.3f}", flush=True)
    shutil.rmtree(out)

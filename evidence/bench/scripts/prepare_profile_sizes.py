"""cProfile (main thread) of `prepare_corpus` on the bench's 1,000 utterances dealt to 10 and to 1,000
speakers, after plain timed runs of each (tenth session; output
../2026-12-01-tenth-session/prepare_profile_10_vs_1000.txt).
Usage: python evidence/bench/scripts/prepare_profile_sizes.py
"""
import contextlib, cProfile, io, os, pstats, shutil, sys, tempfile, time
from mmtl_tf import preparation
from mmtl_tf.bench import __main__ as bench_main, corpus_scale, data_figures, plan as plan_lib
fields = plan_lib.BenchPlan.__dataclass_fields__
_, _, features = bench_main.preset_sizes("demo")
work = tempfile.mkdtemp(prefix="profprep_")
listing = data_figures.synthetic_corpus(work, fields["corpus_utterances"].default,
                                        fields["corpus_max_seconds"].default, features)[0]
def prep(n, name, profile=False):
    spread = corpus_scale.spread_listing(listing, n, 1000)
    out = os.path.join(work, name)
    pr = cProfile.Profile() if profile else None
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        if pr: pr.enable()
        preparation.prepare_corpus(spread, features, out, show_progress=False)
        if pr: pr.disable()
    el = time.perf_counter() - t
    shutil.rmtree(out)
    return el, pr
prep(10, "warm")
for n in (10, 1000, 10, 1000):
    print(n, "plain", round(prep(n, f"p{n}")[0], 3), flush=True)
for n in (10, 1000):
    el, pr = prep(n, f"x{n}", True)
    print("=== profile", n, round(el, 3))
    s = io.StringIO(); pstats.Stats(pr, stream=s).sort_stats("tottime").print_stats(18); print(s.getvalue()[-4000:])

"""(a) of corpus_scale alone: prepare_corpus on 1,000 bench-corpus utterances dealt to 10 and to
1,000 speakers, twice each; prints seconds (wall, CPU) per audio second and the 1000/10 ratios.

Usage (2026-11-30, third session; output in ../2026-11-30-third-session/scale_prepare_ab.txt):
  TAG=old PYTHONPATH=<tree before> python evidence/bench/scripts/scale_prepare_ab.py
  TAG=new PYTHONPATH=<tree after>  python evidence/bench/scripts/scale_prepare_ab.py   (alternated, twice)
"""
import time, os, shutil, io, contextlib, json
from mmtl_tf import config, preparation, audio
from mmtl_tf.bench import corpus_scale, data_figures
work = "/tmp/prof/scale/q" + os.environ.get("TAG", ""); shutil.rmtree(work, ignore_errors=True); os.makedirs(work)
import mmtl_tf; print(mmtl_tf.__file__)
feats = config.FeatureConfig()
listing = data_figures.synthetic_corpus(work, 48, 10.0, feats)[0]
audio_s = sum(i["num_frames"] / i["sample_rate"] for i in (audio.inspect_wav(u.path) for u in listing.utterances))
audio_s *= 1000 / len(listing.utterances)
out = {}
for rnd in range(2):
    for n in (10, 1000):
        spread = corpus_scale.spread_listing(listing, n, 1000)
        d = os.path.join(work, f"p{n}")
        t = time.perf_counter(); c = time.process_time()
        with contextlib.redirect_stdout(io.StringIO()):
            preparation.prepare_corpus(spread, feats, d, show_progress=False)
        out.setdefault(n, []).append((round((time.perf_counter() - t) / audio_s, 6), round((time.process_time() - c) / audio_s, 6)))
        shutil.rmtree(d)
print(json.dumps(out))
w = {n: min(v[0] for v in out[n]) for n in out}; print("wall ratio 1000/10:", round(w[1000] / w[10], 3))
c = {n: min(v[1] for v in out[n]) for n in out}; print("cpu ratio 1000/10:", round(c[1000] / c[10], 3))

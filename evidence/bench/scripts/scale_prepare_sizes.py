"""(a) of corpus_scale alone, as `python -m mmtl_tf.bench` measures it: `prepare_corpus` on the
bench's 1,000 synthetic utterances dealt to 10, 100 and 1,000 speakers (demo preset features, the
faster of two runs per size); prints seconds per audio second and scale_prepare (max/min).

Usage (2026-11-30, fifth session; output in ../2026-11-30-fifth-session/scale_prepare_sizes.txt):
  /work/exp/quiet_run.sh python evidence/bench/scripts/scale_prepare_sizes.py
"""
import contextlib, io, json, os, shutil, tempfile, time
import mmtl_tf
from mmtl_tf import audio, preparation
from mmtl_tf.bench import __main__ as bench_main, corpus_scale, data_figures, plan as plan_lib
fields = plan_lib.BenchPlan.__dataclass_fields__
_, _, features = bench_main.preset_sizes("demo")
work = tempfile.mkdtemp(prefix="scale_prepare_")
listing = data_figures.synthetic_corpus(work, fields["corpus_utterances"].default,
                                        fields["corpus_max_seconds"].default, features)[0]
count = fields["scale_utterances"].default
audio_seconds = sum(i["num_frames"] / i["sample_rate"] for i in
                    (audio.inspect_wav(u.path) for u in listing.utterances[:count]))
audio_seconds *= count / min(count, len(listing.utterances))
rows = {}
for speakers in fields["scale_speakers"].default:
    spread = corpus_scale.spread_listing(listing, speakers, count)
    seconds = []
    for attempt in range(2):
        prepared = os.path.join(work, f"p{speakers}-{attempt}")
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            preparation.prepare_corpus(spread, features, prepared, show_progress=False)
        seconds.append(time.perf_counter() - started)
        shutil.rmtree(prepared)
    rows[speakers] = round(min(seconds) / audio_seconds, 7)
print(json.dumps({"code": mmtl_tf.__file__, "prepare_seconds_per_audio_second": rows,
                  "scale_prepare": round(max(rows.values()) / min(rows.values()), 4)}))
shutil.rmtree(work)

"""(a) of corpus_scale alone, as `python -m mmtl_tf.bench` measures it: `prepare_corpus` on the
bench's 1,000 synthetic utterances dealt to 10, 100 and 1,000 speakers (demo preset features);
prints seconds per audio second and scale_prepare (max/min).

Two protocols:
- default (the bench until the seventh session): the faster of two runs per size, the sizes one
  after the other.
- `rotating` (the bench since the seventh session, `corpus_scale._prepare_seconds`): one untimed
  preparation, then the sizes take turns for the plan's `scale_prepare_rounds` (order rotating),
  the median per size; also prints each round's seconds.

Usage:
  /work/exp/quiet_run.sh python evidence/bench/scripts/scale_prepare_sizes.py [rotating]
Outputs: ../2026-11-30-fifth-session/scale_prepare_sizes.txt (default protocol),
../2026-11-30-seventh-session/scale_prepare_rounds*.txt (rotating, 3 and then 5 rounds).
"""
import contextlib, io, json, os, shutil, statistics, sys, tempfile, time
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
sizes = list(fields["scale_speakers"].default)
record = {"code": mmtl_tf.__file__}
if sys.argv[1:] == ["rotating"]:
    seconds = corpus_scale._prepare_seconds(listing, sizes, count, features, work,
                                            fields["scale_prepare_rounds"].default)
    rows = {k: round(statistics.median(v) / audio_seconds, 7) for k, v in seconds.items()}
    record["rounds_seconds"] = {k: [round(v, 3) for v in vs] for k, vs in seconds.items()}
else:
    rows = {}
    for speakers in sizes:
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
record.update(prepare_seconds_per_audio_second=rows,
              scale_prepare=round(max(rows.values()) / min(rows.values()), 4))
print(json.dumps(record))
shutil.rmtree(work)

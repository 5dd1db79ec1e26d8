"""(a) of corpus_scale alone, with the protocol of the seventh session: one untimed preparation,
then the sizes 10, 100 and 1,000 speakers take turns for the plan's rounds (order rotating), the median
per size (`corpus_scale._prepare_seconds`, the code `python -m mmtl_tf.bench` runs); prints
seconds per audio second, each round's seconds, and scale_prepare (max/min of the medians).

Usage (2026-11-30, seventh session; output in ../2026-11-30-seventh-session/scale_prepare_rounds.txt):
  PYTHONPATH=<clean checkout> /work/exp/quiet_run.sh python evidence/bench/scripts/scale_prepare_rounds.py
"""
import json, shutil, statistics, tempfile
import mmtl_tf
from mmtl_tf import audio
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
seconds = corpus_scale._prepare_seconds(listing, list(fields["scale_speakers"].default), count,
                                        features, work, fields["scale_prepare_rounds"].default)
rows = {speakers: round(statistics.median(values) / audio_seconds, 7)
        for speakers, values in seconds.items()}
print(json.dumps({"code": mmtl_tf.__file__, "prepare_seconds_per_audio_second": rows,
                  "rounds_seconds": {k: [round(v, 3) for v in vs] for k, vs in seconds.items()},
                  "scale_prepare": round(max(rows.values()) / min(rows.values()), 4)}))
shutil.rmtree(work)

"""CPU seconds of prepare_corpus's parts on the bench corpus (480 files, paper features): reading
the wavs, the feature function 4 utterances a call in order, serialising the segments, against
prepare_corpus itself, 3 rounds.

Usage (2026-12-02, fifteenth session; output ../2026-12-02-fifteenth-session/prepare_parts_cpu.txt):
  TF_CPU_ALLOCATOR_USE_BFC=true python evidence/bench/scripts/prepare_parts_cpu.py
Seventeenth session (2026-12-02), the same command on the Intel Xeon kind: output in
../2026-12-02-seventeenth-session/threads_ab.txt.
"""
import time, tempfile, io, contextlib, os, shutil, numpy as np, tensorflow as tf
from mmtl_tf.bench import __main__ as bm, data_figures
from mmtl_tf import audio, features, preparation, preparation_stream, tfrecords
_, _, cfg = bm.preset_sizes("paper")
work = tempfile.mkdtemp()
listing = data_figures.synthetic_corpus(work, 48, 10.0, cfg)[0]
utts = list(listing.utterances)
print("sample rate of wav 0:", audio.inspect_wav(utts[0].path))
lengths = preparation_stream.expected_lengths(utts, cfg)
compute = features.shard_features(cfg)
def cpu(f):
    t = time.process_time(); w = time.perf_counter(); out = f(); return out, time.process_time() - t, time.perf_counter() - w
for r in range(3):
    waves, c_read, w_read = cpu(lambda: [audio.read_wav(u.path, cfg.sample_rate) for u in utts])
    def feats():
        outs = []
        for i in range(0, len(waves), 4):
            b = waves[i:i+4]
            o = compute(tf.constant(np.concatenate(b)), tf.constant([len(x) for x in b], tf.int64))
            outs.append({k: v.numpy() for k, v in o.items()})
        return outs
    outs, c_feat, w_feat = cpu(feats)
    def ser():
        n = 0
        for o in outs:
            for row in range(len(o["num_frames"])):
                tfrecords.serialize_segment(utts[0], row, o["spectrogram"][row], int(o["num_frames"][row])); n += 1
        return n
    n, c_ser, w_ser = cpu(ser)
    out = os.path.join(work, f"p{r}")
    with contextlib.redirect_stdout(io.StringIO()):
        _, c_prep, w_prep = cpu(lambda: preparation.prepare_corpus(listing, cfg, out, show_progress=False))
    shutil.rmtree(out)
    print(f"round {r}: read {c_read:.3f} cpu/{w_read:.3f} wall | features (4 per call, in order) {c_feat:.3f}/{w_feat:.3f} | serialize {c_ser:.3f}/{w_ser:.3f} ({n} segs) | prepare_corpus {c_prep:.3f}/{w_prep:.3f}")

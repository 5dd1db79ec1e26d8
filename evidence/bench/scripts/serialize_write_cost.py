"""CPU of serialising 1,007 float16 segments (`tfrecords.serialize_segment`), writing them with
TFRecordWriter and fsyncing the file: what preparation's consumer thread does per round.
Seventeenth session (2026-12-02; ../2026-12-02-seventeenth-session/threads_ab.txt):
  python evidence/bench/scripts/serialize_write_cost.py
"""
import time, os, numpy as np
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL","2")
import tensorflow as tf
from mmtl_tf import tfrecords, corpora
import inspect
print(inspect.signature(corpora.Utterance))
u = corpora.Utterance(utterance_id="Ses01F_impro01_F000", speaker="Ses01F", session=1, path="/x.wav", emotion=1, valence=2, arousal=3, dominance=4) if True else None
spec = np.random.default_rng(0).standard_normal((1007,300,200)).astype(np.float16)
for r in range(3):
    t=time.perf_counter(); c=time.process_time()
    recs=[tfrecords.serialize_segment(u, i%5, spec[i], 250) for i in range(1007)]
    t1=time.perf_counter(); c1=time.process_time()
    with tf.io.TFRecordWriter("/tmp/b17/x.tfrecord") as w:
        for rec in recs: w.write(rec)
    t2=time.perf_counter(); c2=time.process_time()
    fd=os.open("/tmp/b17/x.tfrecord",os.O_RDONLY); os.fsync(fd); os.close(fd)
    t3=time.perf_counter()
    print(f"serialize {t1-t:.3f}s cpu {c1-c:.3f} | write {t2-t1:.3f} cpu {c2-c1:.3f} | fsync {t3-t2:.3f}")
    t=time.perf_counter()
    for i in range(1007): spec[i].tobytes()
    print("tobytes", time.perf_counter()-t)

"""sha256 of the shards prepare_corpus writes for the bench corpus, to compare thread settings.
Seventeenth session (2026-12-02; ../2026-12-02-seventeenth-session/threads_ab.txt):
  for e in X=1 TF_NUM_INTRAOP_THREADS=1; do env $e TF_CPU_ALLOCATOR_USE_BFC=true \
      python evidence/bench/scripts/prepare_shards_sha256.py; done
"""
import contextlib, hashlib, io, os, sys, tempfile
from mmtl_tf.bench import __main__ as bm, data_figures
from mmtl_tf import preparation
import tensorflow as tf
print("intra", tf.config.threading.get_intra_op_parallelism_threads(), "inter", tf.config.threading.get_inter_op_parallelism_threads(), os.environ.get("TF_NUM_INTRAOP_THREADS"))
_, _, cfg = bm.preset_sizes("paper")
work = tempfile.mkdtemp()
listing = data_figures.synthetic_corpus(work, 48, 10.0, cfg)[0]
out = os.path.join(work, "p")
with contextlib.redirect_stdout(io.StringIO()):
    m = preparation.prepare_corpus(listing, cfg, out, show_progress=False)
h = hashlib.sha256()
gen = os.path.join(out, m["generation"])
for name in sorted(os.listdir(gen)):
    if name.endswith(".tfrecord"):
        h.update(open(os.path.join(gen, name), "rb").read())
print("shards sha256", h.hexdigest())

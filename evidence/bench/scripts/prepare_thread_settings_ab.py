"""prepare_corpus on the bench corpus (480 files, paper features) under one setting of TensorFlow's
threads per process: 6 rounds, CPU s, wall s and cores busy each, and the median of rounds 1-5
by wall. Run one process per setting, alternated.

  THREADS="intra,inter"   the process's thread pools, set before TensorFlow starts (inter -1:
                          a function's ops run in the calling thread)
  CALL_THREADS="intra,inter"  the same numbers in a ConfigProto passed with every feature call
                          (`FunctionCallOptions`, thread-local), the process left as it is
  EXECUTOR=SINGLE_THREADED_EXECUTOR  with CALL_THREADS: the calls' executor
  SPIN=off                `ConfigProto.experimental.disable_thread_spinning` on the eager
                          context before TensorFlow starts

Usage (2026-12-02, sixteenth session; outputs ../2026-12-02-sixteenth-session/
prepare_threads_ab.txt, prepare_threads_ab8.txt, prepare_call_options_ab.txt), e.g.
  for t in "" 1,-1; do THREADS=$t TF_CPU_ALLOCATOR_USE_BFC=true \\
      python evidence/bench/scripts/prepare_thread_settings_ab.py; done
Seventeenth session (2026-12-02; ../2026-12-02-seventeenth-session/threads_ab.txt): THREADS=1,1,
1,2, 1,3 and 2,1, SPIN=off with 1,2, TF_CPU_ALLOCATOR_USE_BFC=false, and TF_NUM_INTRAOP_THREADS=1
set in the environment instead of THREADS (what `python -m mmtl_tf.prepare` now does).
(The outputs were written under this script's first name, prepare_spin_ab.py; their lines also
show NOFSYNC=, an fsync switch since replaced by prepare_early_sync_variants.py, empty in them.)
"""
import contextlib, io, os, shutil, tempfile, time
import tensorflow as tf
from tensorflow.core.protobuf import config_pb2
from tensorflow.python.eager import context
if os.environ.get("THREADS"):
    intra, inter = (int(x) for x in os.environ["THREADS"].split(","))
    tf.config.threading.set_intra_op_parallelism_threads(intra)
    tf.config.threading.set_inter_op_parallelism_threads(inter)
if os.environ.get("SPIN", "on") == "off":
    context.context()._config = config_pb2.ConfigProto(
        experimental=config_pb2.ConfigProto.Experimental(disable_thread_spinning=True))
from mmtl_tf.bench import __main__ as bm, data_figures
from mmtl_tf import preparation, preparation_stream
if os.environ.get("CALL_THREADS"):
    intra, inter = (int(x) for x in os.environ["CALL_THREADS"].split(","))
    shipped = preparation_stream.features.shard_features
    call_config = config_pb2.ConfigProto(intra_op_parallelism_threads=intra,
                                         inter_op_parallelism_threads=inter, allow_soft_placement=True)

    def with_call_options(feature_config):
        compute = shipped(feature_config)

        def call(*args):
            context.context().function_call_options = context.FunctionCallOptions(
                executor_type=os.environ.get("EXECUTOR") or None, config_proto=call_config)
            return compute(*args)
        return call
    preparation_stream.features.shard_features = with_call_options
setting = " ".join(f"{name}={os.environ.get(name, 'default')}"
                   for name in ("SPIN", "THREADS", "CALL_THREADS", "EXECUTOR"))
_, _, cfg = bm.preset_sizes("paper")
work = tempfile.mkdtemp()
listing = data_figures.synthetic_corpus(work, 48, 10.0, cfg)[0]
rows = []
for r in range(6):
    out = os.path.join(work, f"p{r}")
    c, w = time.process_time(), time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        preparation.prepare_corpus(listing, cfg, out, show_progress=False)
    c, w = time.process_time() - c, time.perf_counter() - w
    shutil.rmtree(out)
    rows.append((c, w))
    print(f"{setting} round {r}: cpu {c:.3f} s wall {w:.3f} s busy {c / w:.2f}", flush=True)
rest = sorted(rows[1:], key=lambda x: x[1])
med = rest[len(rest) // 2]
print(f"{setting} median of rounds 1-5 by wall: cpu {med[0]:.3f} wall {med[1]:.3f} busy {med[0] / med[1]:.2f}")
shutil.rmtree(work)

"""What the shards' durability costs prepare_corpus, and how the early start of their write-back
could cost less: rounds of four variants cycled in one process (bench corpus, 480 files, paper
features), medians of wall, CPU and cores busy.

  shipped     `atomic_files.EarlySync` fsyncs a shard every 16 MB on its thread; the commit
              fsyncs every file it names
  no early    the commit's fsyncs only
  fadvise     the early start as posix_fadvise(DONTNEED) (starts write-back without waiting
              for it), then the commit's fsyncs
  no fsync    no fsync at all (a reference only: the shards would not be durable)

Usage (2026-12-02, sixteenth session; output ../2026-12-02-sixteenth-session/prepare_early_sync_variants.txt):
  TF_CPU_ALLOCATOR_USE_BFC=true python evidence/bench/scripts/prepare_early_sync_variants.py [cycles [variants]]
with variants a comma-separated subset of the names above. prepare_fsync_alternated.txt came from
an earlier two-variant copy of this loop, 10 cycles of "shipped,no fsync" with the warm-up round
the no-fsync one; its rounds call shipped "fsync".
"""
import contextlib, io, os, shutil, statistics, sys, tempfile, time
from mmtl_tf.bench import __main__ as bm, data_figures
from mmtl_tf import atomic_files, preparation
_, _, cfg = bm.preset_sizes("paper")
work = tempfile.mkdtemp()
listing = data_figures.synthetic_corpus(work, 48, 10.0, cfg)[0]
shipped_fsync, shipped_early = os.fsync, atomic_files._fsync_if_present


def fadvise_early(path):
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return
    try:
        os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(descriptor)


variants = {"shipped": (shipped_fsync, shipped_early), "no early": (shipped_fsync, lambda path: None),
            "fadvise": (shipped_fsync, fadvise_early), "no fsync": (lambda d: None, lambda path: None)}
if len(sys.argv) > 2:
    variants = {name: variants[name] for name in sys.argv[2].split(",")}
rows = {name: [] for name in variants}
cycles = int(sys.argv[1]) if len(sys.argv) > 1 else 8
for r in range(cycles * len(variants) + 1):
    name = list(variants)[r % len(variants)]
    os.fsync, atomic_files._fsync_if_present = variants[name]
    out = os.path.join(work, f"p{r}")
    c, w = time.process_time(), time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        preparation.prepare_corpus(listing, cfg, out, show_progress=False)
    c, w = time.process_time() - c, time.perf_counter() - w
    os.fsync, atomic_files._fsync_if_present = shipped_fsync, shipped_early
    shutil.rmtree(out)
    if r:  # round 0 warms up
        rows[name].append((w, c))
    print(f"round {r:2d} {name:8s}: wall {w:.3f} cpu {c:.3f} busy {c / w:.2f}", flush=True)
for name, values in rows.items():
    wall = statistics.median(w for w, _ in values)
    cpu = statistics.median(c for _, c in values)
    print(f"{name:8s} medians of {len(values)}: wall {wall:.3f} cpu {cpu:.3f} busy {cpu / wall:.2f}")
shutil.rmtree(work)

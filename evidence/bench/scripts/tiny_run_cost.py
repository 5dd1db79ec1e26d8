"""Wall time of tiny in-process `main` runs, and whether two checkouts train identically.

Usage (from the repository root, a checkout installed with `pip install -e ".[test]"`):
    python evidence/bench/scripts/tiny_run_cost.py times WORK_DIR
        prepares the tests' tiny synthetic corpus (smoke features) under WORK_DIR unless it is
        there, then runs the same 2-step MMTL fold three times in this one process and prints
        each run's seconds. Call it twice: in the second call (the corpus found prepared) the
        first run pays the process's one-time costs, AutoGraph's conversions among them.
    python evidence/bench/scripts/tiny_run_cost.py runs WORK_DIR NAME
        trains 6-step folds (MMTL with the reference update, MMTL with Adam adaptation, MTL,
        CNN-LSTM) into WORK_DIR/NAME; run it in two checkouts, then
    python evidence/bench/scripts/tiny_run_cost.py compare WORK_DIR NAME_A NAME_B
        prints, per fold, the results.json fields that differ (seconds and run_dir aside) and the
        largest weight difference of the checkpoints.
BUILD.md "Tests" quotes its numbers (2026-12-01). Beside the training jobs: first run 14.5 s,
then 5.5 and 5.4 s before the AutoGraph change; 10.2, 4.6 and 5.1 s after. Idle, two calls each
(`times`, the older checkout first on PYTHONPATH): commit 731eab0 6.5/4.8/4.7 s and
6.2/5.4/5.1 s; commit 0d49dd2 4.4/4.0/4.5 s and 5.9/4.9/4.9 s. `compare`: no field and no
weight differed.
"""

import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.getcwd(), "tests"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

FOLDS = (("mmtl", ("--outer_update=reference",)), ("mmtl", ("--test_adapt_optimizer=adam",)),
         ("mtl", ()), ("cnn_lstm", ()))


def _shards(work_dir):
    import conftest  # pylint: disable=import-outside-toplevel
    from mmtl_tf import preparation  # pylint: disable=import-outside-toplevel
    from mmtl_tf.corpora import synthetic  # pylint: disable=import-outside-toplevel
    shards = os.path.join(work_dir, "shards")
    if not os.path.exists(os.path.join(shards, "manifest.json")):
        listing = synthetic.read_synthetic(os.path.join(work_dir, "corpus"),
                                           utterances_per_speaker=8, seed=0)
        preparation.prepare_corpus(listing, conftest.smoke_features(), shards, show_progress=False)
    return shards


def times(work_dir):
    """Three identical 2-step MMTL runs in this process; prints each one's seconds."""
    import conftest  # pylint: disable=import-outside-toplevel
    shards = _shards(work_dir)
    for attempt in range(3):
        start = time.perf_counter()
        conftest.run_main_in_process(f"--tfrecord_dir={shards}", "--fold=2", "--train_steps=2",
                                     f"--run_dir={work_dir}/times-{time.time_ns()}", "--aux=vad")
        print(f"run {attempt}: {time.perf_counter() - start:.1f} s", flush=True)


def runs(work_dir, name):
    """The four 6-step folds of FOLDS into WORK_DIR/NAME."""
    import conftest  # pylint: disable=import-outside-toplevel
    shards = _shards(work_dir)
    for index, (model, extra) in enumerate(FOLDS):
        conftest.run_main_in_process(f"--tfrecord_dir={shards}", "--fold=2", "--train_steps=6",
                                     "--eval_every=3", f"--model={model}", "--aux=vad",
                                     f"--run_dir={work_dir}/{name}/{index}-{model}", *extra)


def compare(work_dir, first, second):
    """Prints the differing results.json fields and the largest checkpoint weight difference."""
    import numpy as np  # pylint: disable=import-outside-toplevel
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    for run in sorted(os.listdir(os.path.join(work_dir, first))):
        a, b = (os.path.join(work_dir, name, run) for name in (first, second))
        left, right = (json.load(open(os.path.join(d, "results.json"))) for d in (a, b))
        fields = [k for k in left if k not in ("seconds", "run_dir") and left[k] != right.get(k)]
        readers = [tf.train.load_checkpoint(os.path.join(d, "checkpoints", "latest"))
                   for d in (a, b)]
        worst = 0.0
        for name in readers[0].get_variable_to_shape_map():
            x, y = (np.asarray(reader.get_tensor(name)) for reader in readers)
            if x.dtype.kind == "f" and x.size:
                worst = max(worst, float(np.abs(x - y).max()))
        print(f"{run}: differing fields {fields}, largest weight difference {worst}")


if __name__ == "__main__":
    {"times": times, "runs": runs, "compare": compare}[sys.argv[1]](*sys.argv[2:])

"""Peak memory of `serving_default` on long audio: one network call vs chunks of 64 segments.

    PYTHONPATH=. python evidence/serving_memory.py [--minutes=1,10] [--work_dir=DIR]

The paper network with freshly initialised weights (`bench.serving.untrained_run_dir`; the
values do not matter for memory) is exported twice: with the default chunk of 64 segments, and
with a chunk larger than any request, which is the network over all segments at once as before
the chunking. Each (export, duration) pair runs in a child process of its own that loads the
export and serves one noise waveform of that length; the child prints its peak resident set
(`ru_maxrss`, including TensorFlow's own ~0.5 GB), so the pairs do not share a high-water mark.
Not a test: it takes minutes and gigabytes. BUILD.md ("Serving with TF Serving") has a result.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

_CHILD = """
import json, resource, sys, time
import numpy as np
import tensorflow as tf
serve = tf.saved_model.load(sys.argv[1]).signatures["serving_default"]
samples = int(float(sys.argv[2]) * 60 * 16000)
waveform = tf.constant(0.1 * np.random.default_rng(0).standard_normal((1, samples)), tf.float32)
started = time.perf_counter()
probabilities = serve(waveform=waveform, num_samples=tf.constant([samples]))["probabilities"]
print(json.dumps({"seconds": time.perf_counter() - started,
                  "probabilities": probabilities.numpy()[0].tolist(),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main():
    """Exports both variants, serves each duration in a fresh child, prints one JSON line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", default="1,10", help="durations to serve, comma separated")
    parser.add_argument("--work_dir", default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args()
    import keras  # pylint: disable=import-outside-toplevel (after --help)

    from mmtl_tf import config as config_lib  # pylint: disable=import-outside-toplevel
    from mmtl_tf import export  # pylint: disable=import-outside-toplevel
    from mmtl_tf.bench import serving  # pylint: disable=import-outside-toplevel

    work_dir = args.work_dir or tempfile.mkdtemp(prefix="serving_memory_")
    run_dir = serving.untrained_run_dir(config_lib.ModelConfig(), config_lib.FeatureConfig(),
                                        os.path.join(work_dir, "run"))
    exports = {}
    for name, chunk in (("one_call", 10**9), ("chunks_of_64", export.CHUNK_SEGMENTS)):
        keras.backend.clear_session()
        exports[name] = export.export_run(run_dir, export_dir=os.path.join(work_dir, name),
                                          version=1, overwrite=True, chunk_segments=chunk)
    environment = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    for minutes in args.minutes.split(","):
        for name, version_dir in exports.items():
            completed = subprocess.run([sys.executable, "-c", _CHILD, version_dir, minutes],
                                       capture_output=True, text=True, env=environment,
                                       check=True)
            measured = json.loads(completed.stdout.strip().splitlines()[-1])
            print(json.dumps({"minutes": float(minutes), "variant": name, **measured}),
                  flush=True)


if __name__ == "__main__":
    main()

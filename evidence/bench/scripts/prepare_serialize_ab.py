"""prepare_speedup and prepare_speedup_one_core alone (`prepare_figures.py 5`) with
`tfrecords.serialize_segment` as it is ("slow") or replaced by a bare float16 `tobytes()`
("fast", records no reader could parse), to see whether serialising is what holds the figure.
The replacement serves both sides, since the librosa loop writes its records the same way.

Usage (2026-12-02, fifteenth session; output ../2026-12-02-fifteenth-session/prepare_serialize_ab.txt):
  for v in fast slow fast slow; do python evidence/bench/scripts/prepare_serialize_ab.py $v | tail -1; done
"""
import os, sys, runpy, numpy as np
from mmtl_tf import tfrecords
if sys.argv[-1] == "fast":
    def fast(utterance, segment_index, spectrogram, num_frames):
        return np.ascontiguousarray(spectrogram, dtype="<f2").tobytes()
    tfrecords.serialize_segment = fast
    sys.argv.pop()
sys.argv = ["prepare_figures.py", "5"]
runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "prepare_figures.py"),
               run_name="__main__")

"""Features of digital silence with and without the flat-segment rule (features._FLAT_STD).

    PYTHONPATH=. python evidence/audit-2026-12-01/silence_features.py

Before the rule (the eleventh session's audit found it through `predict` on a silent wav), a
flat segment was normalised anyway: float32 rounding of its mean, divided by sqrt(variance) +
1e-5, came out as values of up to ~0.7. Output of 2026-12-01 (commit e36814e) in
silence_features.txt beside this script.
"""
import numpy as np

from mmtl_tf import config, features

CFG = config.FeatureConfig()
silence = np.zeros(CFG.segment_samples, np.float32)
tone = (0.3 * np.sin(2 * np.pi * 220 * np.arange(CFG.segment_samples) / CFG.sample_rate)
        ).astype(np.float32)
for flat_std, name in ((-1.0, "without the rule"), (features._FLAT_STD, "with the rule")):
    features._FLAT_STD = flat_std  # pylint: disable=protected-access
    for batch_name, parts in (("alone", [silence]), ("beside a tone", [tone, silence])):
        out = features.concatenated_features(np.concatenate(parts), [len(p) for p in parts], CFG)
        print(f"{name}, {batch_name}: max |value| of the silent segment "
              f"{np.abs(out['spectrogram'].numpy()[-1]).max():.4f}")

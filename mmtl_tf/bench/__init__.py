"""The benchmark: `python -m mmtl_tf.bench` (entry point and flags in `__main__`).

Parts: `plan` (figures, targets, sizes, judging), `timing` (alternating rounds, CPU, memory),
`outer_step` (the training step on a random episode, and the figures' experiment config),
`step_figures` (the outer step against its floor, XLA, the m x B grid) and `step_profiles`
(where its time goes, when a step figure misses), `reference` (the authors' schedule as a speed
yardstick), `data_figures` and `librosa_baseline` (the input pipeline and preparation),
`serving`, `replicas`, `memory` (the long run), `corpus_scale` (10 to 1,000 speakers, on
`random_shards`), and `run`, which measures them all in order.
"""

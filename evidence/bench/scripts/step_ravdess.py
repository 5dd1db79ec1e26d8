"""The `ravdess` preset's MMTL outer step (m = 4, B = 16, 200 x 200 spectrograms) on random
tensors: first call, then 6 timed steps; then 6 rounds of the plain passes (its floor).

Usage (2026-11-30, fourth session; output in ../2026-11-30-fourth-session/allocator_speed_ravdess.txt):
  TF_NUM_INTRAOP_THREADS=1 [TF_CPU_ALLOCATOR_USE_BFC=true] python evidence/bench/scripts/step_ravdess.py
"""
import time, sys, os
import tensorflow as tf
from mmtl_tf import config as config_lib
from mmtl_tf.bench import outer_step, step_figures as sf
mc = config_lib.ModelConfig(conv_filters=(8,12,16), conv_kernels=((3,3),(3,3),(3,3)), lstm_units=32, fc_units=32, num_frames=200, num_bins=200)
print(mc)
st = outer_step.build_outer_step(mc, 4, 16)
t=time.time(); st.run(); print("first", time.time()-t)
ts=[]
for i in range(6):
    t=time.time(); st.run(); ts.append(time.time()-t)
print("step", sorted(ts))
passes = sf.plain_passes(st.algorithm)
passes(st.episode)
ts=[]
for i in range(6):
    t=time.time(); passes(st.episode).numpy(); ts.append(time.time()-t)
print("plain", sorted(ts))

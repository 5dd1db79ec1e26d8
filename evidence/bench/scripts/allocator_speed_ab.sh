#!/bin/bash
# The step under malloc, a fixed mmap threshold and TensorFlow's BFC pool, alternated (2026-11-30,
# fourth session, under /work/exp/quiet_run.sh; outputs ../2026-11-30-fourth-session/allocator_speed_*.txt).
cd /work/main
for round in 1 2; do
  TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python evidence/bench/scripts/speed_env.py 2>/dev/null | tail -1
  MALLOC_MMAP_THRESHOLD_=131072 TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python evidence/bench/scripts/speed_env.py 2>/dev/null | tail -1
  TF_CPU_ALLOCATOR_USE_BFC=true TF_CPP_MIN_LOG_LEVEL=2 .venv/bin/python evidence/bench/scripts/speed_env.py 2>/dev/null | tail -1
done
# The ravdess preset's step at one thread (allocator_speed_ravdess.txt):
export TF_CPP_MIN_LOG_LEVEL=3 TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1
for round in 1 2; do
  echo "default"; .venv/bin/python evidence/bench/scripts/step_ravdess.py 2>/dev/null | grep "^step"
  echo "bfc"; TF_CPU_ALLOCATOR_USE_BFC=true .venv/bin/python evidence/bench/scripts/step_ravdess.py 2>/dev/null | grep "^step"
done

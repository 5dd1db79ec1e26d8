#!/bin/bash
# Step time with TensorFlow's default inter-op pool vs TF_NUM_INTEROP_THREADS=1 (sixth session, 2026-11-30).
# Usage: /work/exp/quiet_run.sh evidence/bench/scripts/interop_speed_ab.sh CHECKOUT   (a clean checkout to time)
# Output: ../2026-11-30-sixth-session/interop_speed_ab.txt
cd "$1"
for r in 1 2 3; do
  for io in default 1; do
    if [ $io = default ]; then unset TF_NUM_INTEROP_THREADS; else export TF_NUM_INTEROP_THREADS=1; fi
    echo -n "interop=$io round $r: "
    TF_CPU_ALLOCATOR_USE_BFC=true PYTHONPATH="$1" /work/main/.venv/bin/python /work/main/evidence/bench/scripts/speed_env.py 15 2>/dev/null
  done
done

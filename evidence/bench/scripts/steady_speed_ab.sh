#!/bin/bash
# Seconds per outer step of the rss_growth loop (demo model, m = 2, B = 16, pipeline and step),
# default settings vs --steady_memory's (one speaker's passes at a time, one inter-op thread,
# each episode read when the step asks for it), alternated, one process per round
# (fourteenth session; output ../2026-12-02-fourteenth-session/steady_speed_ab*.txt). Run it in a
# checkout of commit 5932ab7, whose rss_growth_alone.py has the STEADY=1 hook: the flag was
# reverted after these measurements.
# Usage: bash evidence/bench/scripts/steady_speed_ab.sh ROUNDS [FIRST LAST]
# (PRESET=paper in the environment: the paper model and B, m = 2; steps FIRST+1..LAST timed.)
cd "$(dirname "$0")/../../.."
first=${2:-10}; last=${3:-40}
for r in $(seq 1 "${1:-2}"); do
  for mode in default steady; do
    if [ $mode = steady ]; then extra="STEADY=1 TF_NUM_INTEROP_THREADS=1"; else extra=""; fi
    log=$(env $extra TF_CPU_ALLOCATOR_USE_BFC=true EVERY_STEP=1 TF_CPP_MIN_LOG_LEVEL=2 python evidence/bench/scripts/rss_growth_alone.py $first,$last 2>/dev/null)
    t1=$(echo "$log" | awk -v s=$first '$1=="step" && $2==s {print $3+0}')
    t2=$(echo "$log" | awk -v s=$last '$1=="step" && $2==s {print $3+0}')
    echo "round $r $mode ${PRESET:-demo}: $(echo "$t1 $t2 $first $last" | awk '{printf "%.2f s per step over steps %d-%d", ($2-$1)/($4-$3), $3+1, $4}')"
  done
done

#!/bin/bash
# alternate processes under each allocator setting; threads=$1
cd /work/wt/perf; export PYTHONPATH=$PWD OMP_WAIT_POLICY=PASSIVE
PY=/work/main/.venv/bin/python; S=/work/scratch/perf/alloc_step.py; T=$1
for round in 1 2; do
  echo "glibc-default $(nice -n 10 $PY $S $T 2>/dev/null | tail -1)"
  echo "glibc-keep $(MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=4294967295 MALLOC_TOP_PAD_=268435456 nice -n 10 $PY $S $T 2>/dev/null | tail -1)"
  echo "jemalloc $(LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2 nice -n 10 $PY $S $T 2>/dev/null | tail -1)"
  echo "tcmalloc $(LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4 nice -n 10 $PY $S $T 2>/dev/null | tail -1)"
done

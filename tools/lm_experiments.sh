#!/bin/bash
# The language-model experiments of nbs/48_lm_results (Table 4, Figure 4b), one `python -m sgconv.train` run at a time,
# each collected into results/lm/ (rows and metrics.csv logs; checkpoints stay in $RUNS).
#   tools/lm_experiments.sh table4 [seeds]        e.g. tools/lm_experiments.sh table4 "0 1"
#   tools/lm_experiments.sh fig4b [n] [seed]      n random orderings of 4 SGConv and 4 attention blocks
# Environment: RUNS (default /tmp/lm/runs), NICE (default 5), THREADS (default 1: on 2 shared cores a second thread only waits)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-/tmp/lm/runs}; NICE=${NICE:-5}; THREADS=${THREADS:-1}
export PYTHONPATH=$PWD OMP_NUM_THREADS=$THREADS PYTHONWARNINGS=ignore
PY=${PY:-/work/main/.venv/bin/python}

train() {  # train NAME DEST [sgconv.train args...]: one run, then collect it under DEST as NAME (skipped if already there)
  local name=$1 dest=$2; shift 2
  if [ -f "$dest/$name.json" ]; then echo "have $dest/$name.json"; return; fi
  mkdir -p "$RUNS/results"
  echo "[$(date +%H:%M:%S)] $name: $*"
  nice -n "$NICE" $PY -m sgconv.train --task kjv-word --preset small --no-progress --no-tensorboard --out "$RUNS" \
      --results "$RUNS/results/$name.json" "$@" > "$RUNS/$name.log" 2>&1
  $PY -c "import sys, json; from sgconv.lm_results import collect_run; from sgconv.tasks import resolve_run; from sgconv.train import parse_overrides
r = json.load(open('$RUNS/results/$name.json'))[0]
cfg = resolve_run(r['task'], r['model'], r['preset'], parse_overrides(sys.argv[1:])).model_config
collect_run('$RUNS/results/$name.json', '$dest', '$name', pattern=''.join(cfg.blocks))" "${SETS[@]}"
  echo "[$(date +%H:%M:%S)] $name done: $(tail -c 300 "$RUNS/$name.log" | tr '\n' ' ' | cut -c1-200)"
}

case "${1:-}" in
  table4)
    for seed in ${2:-0 1}; do
      for m in txl16 hybrid16 txl18 hybrid18 sgconv-lm; do
        SETS=(); train "$m-s$seed" results/lm/table4 --model "$m" --seed "$seed"
      done
    done ;;
  fig4b)
    n=${2:-12}; seed=${3:-0}
    for p in $($PY -c "from sgconv.pattern import random_orderings; print(' '.join(random_orderings({'A': 4, 'C': 4}, $n, seed=$seed)))"); do
      SETS=("model.pattern=$p" "train.limit_train_batches=0.4")
      train "$p" results/lm/fig4b --model hybrid16 --seed 0 --set "model.pattern=$p" train.limit_train_batches=0.4
    done ;;
  distill)   # the distillation study of the seed-0 hybrid18 and sgconv-lm runs of table4
    for m in ${2:-hybrid18 sgconv-lm}; do
      ck=$($PY -c "import json; print(json.load(open('$RUNS/results/$m-s0.json'))[0]['best_ckpt'])")
      nice -n "$NICE" $PY -m sgconv.distill --ckpt "$ck" --orders 4,8,16,32,64 --json results/lm/distill-$m.json
    done ;;
  samples)   # generation samples of the seed-0 table4 runs
    nice -n "$NICE" $PY -c "
import json; from sgconv.lm_train import sample
out = []
for m in ('txl18', 'hybrid18', 'sgconv-lm'):
    ck = json.load(open('$RUNS/results/' + m + '-s0.json'))[0]['best_ckpt']
    for prompt in ('And God said', 'The LORD is my'):
        for t, k in ((0.0, None), (0.8, 40)):
            out.append(dict(model=m, prompt=prompt, temperature=t, top_k=k, seed=0, max_new_tokens=40,
                            text=sample(ck, prompt, 40, temperature=t, top_k=k, seed=0)[0]))
json.dump(out, open('results/lm/samples.json', 'w'), indent=1)
print('\n\n'.join(f\"{o['model']} T={o['temperature']}: {o['text']}\" for o in out))" ;;
  bench)
    nice -n "$NICE" $PY -m sgconv.lm_bench --threads "$THREADS" --json results/lm/bench.json ;;
  *) echo "usage: $0 table4 [seeds] | fig4b [n] [seed] | distill [models] | samples | bench"; exit 1 ;;
esac

#!/usr/bin/env bash
# The seeded runs behind the speech (nbs/32) and SGConvNeXt (nbs/53) results pages, one `python -m sgconv.train` run
# per task, model and seed (resumable: a run whose results file exists is skipped), then collected into results/.
#   tools/experiments.sh speech [seeds]     Table 3: sc10-mfcc, sc10-raw, sc35-raw (SGConv, S4D; seeds), then one seed of the others on MFCC
#   tools/experiments.sh vision [seeds]     Fashion-MNIST: SGConvNeXt-atto and ConvNeXt-atto
#   tools/experiments.sh lra [seeds]        Table 1, offline: listops, pathfinder, kjv-text, kjv-retrieval, fmnist-seq (SGConv, Transformer, S4D)
#   tools/experiments.sh pathx [seeds]      Path-X at 128 px, no distractors: SGConv (default seed 0; about 1.4 h a seed)
#   tools/experiments.sh pathx-probes       why that difficulty: a 2-D CNN at 128 px and the Path-X model at 32 px (~25 min)
#   tools/experiments.sh bert [seeds]       Table 5: BERT and SGConvBERT pretrained once, fine-tuned on the offline suite per seed (default 0-4)
#   tools/experiments.sh figure2            S4 on Pathfinder and on SC10 raw (small; S4 at 16,000 positions is ~2.5x SGConv's step)
#   tools/experiments.sh collect            rows and logs into results/, the vision page's artefacts, Figure 2's kernels
# Environment: RUNS (default runs), NICE (default 2), THREADS (default 1: on 2 shared cores a second thread mostly waits)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-runs}; NICE=${NICE:-2}; THREADS=${THREADS:-1}
export OMP_NUM_THREADS=$THREADS PYTHONWARNINGS=ignore
PY=${PY:-.venv/bin/python}

run() {  # run FAMILY TASK MODEL SEED [sgconv.train args...]
  local fam=$1 task=$2 model=$3 seed=$4; shift 4
  local out=$RUNS/$fam/$task-$model-s$seed.json
  [ -f "$out" ] && { echo "have $out"; return; }
  mkdir -p "$RUNS/$fam"
  echo "[$(date +%H:%M:%S)] $task $model seed $seed $*"
  nice -n "$NICE" $PY -m sgconv.train --task "$task" --model "$model" --preset small --seed "$seed" --out "$RUNS/$fam" \
      --results "$out" --no-progress --no-tensorboard "$@" > "$RUNS/$fam/$task-$model-s$seed.log" 2>&1
}

case "${1:-}" in
  speech)
    for s in ${2:-0 1 2}; do for t in sc10-mfcc sc10-raw sc35-raw; do for m in sgconv s4d; do run speech $t $m $s; done; done; done
    for m in cnn transformer s4; do run speech sc10-mfcc $m 0; done ;;
  vision)
    for s in ${2:-0 1 2}; do for m in sgconvnext-atto convnext-atto; do run vision fmnist $m $s; done; done ;;
  lra)
    for s in ${2:-0 1 2}; do for t in listops kjv-text kjv-retrieval pathfinder fmnist-seq; do for m in sgconv transformer s4d; do run lra $t $m $s; done; done; done ;;
  pathx)
    for s in ${2:-0}; do run lra pathx sgconv $s; done ;;
  pathx-probes)
    nice -n "$NICE" $PY tools/pathx_probes.py results/lra/pathx_probes.json ;;
  bert)
    for m in bert sgconvbert; do
      nice -n "$NICE" $PY -m sgconv.bert_train --model $m --preset small --seed "$(echo ${2:-0 1 2 3 4} | tr ' ' ,)" --out "$RUNS/bert" \
          --archive results/bert --no-progress > "$RUNS/bert-$m.log" 2>&1
    done ;;
  figure2)
    run lra pathfinder s4 0
    run speech sc10-raw s4 0 ;;
  collect)
    $PY tools/collect_runs.py results/speech $RUNS/speech/*-s*.json
    $PY tools/collect_runs.py results/lra $RUNS/lra/*-s*.json
    $PY tools/figure2.py results/speech/figure2.pt "Pathfinder, S4:results/lra/results.json:pathfinder:s4" "SC10 raw, S4D:results/speech/results.json:sc10-raw:s4d"
    $PY tools/collect_runs.py results/vision $RUNS/vision/*-s*.json
    $PY tools/vision_artifacts.py results/vision ;;
  *) echo "usage: $0 speech [seeds] | vision [seeds] | lra [seeds] | pathx [seeds] | pathx-probes | bert [seeds] | figure2 | collect"; exit 1 ;;
esac

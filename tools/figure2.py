#!/usr/bin/env python
"""Figure 2 with trained kernels: the layer kernels of trained S4 checkpoints beside the same models at initialisation,
saved for the speech results page (nbs/32_speech_results).

    python tools/figure2.py results/speech/figure2.pt "SC10 raw:results/speech/results.json:sc10-raw" "Pathfinder:results/lra/results.json:pathfinder"

Each panel is TITLE:RESULTS_FILE:TASK[:MODEL] (the seed-0 row of that task and model, default --model, in that file
gives the checkpoint) or TITLE:CHECKPOINT.ckpt.
"""
import argparse
from pathlib import Path
from sgconv.results import load_results
from sgconv.speech_results import figure2_kernels, save_figure2

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('out', help='where to save the panels (.pt)')
p.add_argument('panels', nargs='+', help='TITLE:RESULTS_FILE:TASK[:MODEL]')
p.add_argument('--model', default='s4'); p.add_argument('--seed', type=int, default=0)
p.add_argument('--positions', type=int, default=4096); p.add_argument('--features', type=int, default=8)
a = p.parse_args()
panels = {}
for spec in a.panels:
    if spec.endswith('.ckpt'):   # TITLE:CHECKPOINT, a checkpoint given directly
        title, ck = spec.split(':', 1)
        panels[title] = figure2_kernels(ck, positions=a.positions, features=a.features, seed=a.seed)
        print(title, 'slopes initial', [round(s, 2) for s in panels[title]['initial_slopes']], 'trained', [round(s, 2) for s in panels[title]['trained_slopes']])
        continue
    title, f, task, *model = spec.split(':')
    model = model[0] if model else a.model
    rows = [r for r in load_results(f, root=Path(f).parent) if r['task'] == task and r['model'] == model and r['seed'] == a.seed]
    if not rows: raise SystemExit(f'no {model} seed {a.seed} row of {task} in {f}')
    panels[title] = figure2_kernels(rows[0]['best_ckpt'], positions=a.positions, features=a.features, seed=a.seed)
    print(title, 'slopes initial', [round(s, 2) for s in panels[title]['initial_slopes']], 'trained', [round(s, 2) for s in panels[title]['trained_slopes']])
save_figure2(panels, a.out); print('saved', a.out)

#!/usr/bin/env python
"""Everything the SGConvNeXt results page (nbs/53_vision_results) draws besides the accuracy rows, computed from the
checkpoints of the collected runs and saved beside them:

    python tools/vision_artifacts.py results/vision [--test-images 2000] [--finetune-steps 100]

measures.json (parameters, FLOPs, throughput, alternating rounds), stage_kernels.pt (Figure 10), gradcam.pt
(Figure 9), pruning.json (accuracy against taps kept, cut and fine-tuned) and pruning_speed.json.
"""
import argparse, json, logging
from pathlib import Path
import torch
from torch.utils.data import DataLoader, Subset

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('dest', help='the results folder with results.json, e.g. results/vision')
p.add_argument('--seed', type=int, default=0, help='the seed whose checkpoints are analysed')
p.add_argument('--test-images', type=int, default=2000, help='test images for the pruning curve (the first ones)')
p.add_argument('--energies', default='1,0.999,0.99,0.95,0.9,0.8,0.5')
p.add_argument('--finetune', default='0.9,0.5', help='energies at which to fine-tune after the cut')
p.add_argument('--finetune-steps', type=int, default=100)
p.add_argument('--skip', default='', help='comma-separated parts to skip: measures,kernels,gradcam,pruning,speed')
a = p.parse_args()
skip = set(a.skip.split(',')) - {''}
logging.getLogger('lightning.pytorch').setLevel(logging.WARNING)

from sgconv.results import load_results
from sgconv.harness import load_checkpoint, TaskDataModule
from sgconv.tasks import resolve_run
from sgconv.models import build_model
from sgconv.convnext import stage_kernels, grad_cam, pruning_speed
from sgconv.vision_results import measure_models, pruning_curve, finetune_pruned

dest = Path(a.dest)
rows = [r for r in load_results(dest/'results.json', root=dest) if r['seed'] == a.seed]
ckpts = {r['model']: r['best_ckpt'] for r in rows}
mods = {m: load_checkpoint(c).eval() for m, c in ckpts.items()}
sg = next(m for m in mods if m.startswith('sgconvnext'))
task, preset = rows[0]['task'], rows[0]['preset']
cfg = resolve_run(task, sg, preset)
dm = TaskDataModule(task, batch_size=256, progress=False, **cfg.data); dm.prepare_data(); dm.setup('test')
test = dm.test_dataloader()

if 'measures' not in skip:
    fresh = {m: build_model(dm.info, m, **resolve_run(task, m, preset).model_options) for m in mods}
    meas = measure_models(fresh, batch_size=64, rounds=3, steps=3)
    (dest/'measures.json').write_text(json.dumps(meas, indent=1)); print('measures', meas)
if 'kernels' not in skip:
    torch.save([d | {'forward': d['forward'].half(), 'backward': d['backward'].half()} for d in stage_kernels(mods[sg].model.net)], dest/'stage_kernels.pt'); print('stage kernels saved')
if 'gradcam' not in skip:
    x, _, y = next(iter(test))
    x, y = x[:8].clone(), y[:8].clone()
    out = dict(images=x, labels=y)
    for m, mod in mods.items():
        maps, cls = grad_cam(mod.model.net, x); out[m] = dict(maps=maps.half(), predicted=cls)
    torch.save(out, dest/'gradcam.pt'); print('grad-cam saved')
if 'pruning' not in skip:
    sub = DataLoader(Subset(test.dataset, range(min(a.test_images, len(test.dataset)))), batch_size=256, collate_fn=test.collate_fn)
    curve = pruning_curve(mods[sg].model, sub, [float(e) for e in a.energies.split(',')])
    tuned = [finetune_pruned(ckpts[sg], float(e), task=task, preset=preset, steps=a.finetune_steps, out_dir='/tmp/sgconv-finetune')
             for e in a.finetune.split(',') if e]
    (dest/'pruning.json').write_text(json.dumps(dict(curve=curve, finetuned=tuned, test_images=len(sub.dataset),
                                                      finetune_steps=a.finetune_steps, ckpt_seed=a.seed), indent=1, default=float))
    print('pruning', curve, tuned)
if 'speed' not in skip:
    sp = pruning_speed(mods[sg].model.net, (1.0, 0.99, 0.9, 0.5))
    (dest/'pruning_speed.json').write_text(json.dumps(sp, indent=1, default=str)); print('speed', sp)

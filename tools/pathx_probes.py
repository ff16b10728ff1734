#!/usr/bin/env python
"""Difficulty probes for Path-X: is a generated 128 px set learnable at all, and can the Path-X model learn the task at 32 px?

    python tools/pathx_probes.py results/lra/pathx_probes.json                  # both probes, about 25 min on one core
    python tools/pathx_probes.py results/lra/pathx_probes.json --only sequence  # one of them
    python tools/pathx_probes.py results/lra/pathx_probes.json --collect runs/lra/pathx-sgconv-d40-s0.json \
        --sets data.n_distractors=40 train.max_epochs=2   # a Path-X run made by sgconv.train, as a probe row

Two probes, each at two difficulties: the `small` preset's one-paddle distractors (40 in a Path-X image, 10 in a 32 px
Pathfinder image), and none.

- `image`: a plain 2-D CNN (BatchNorm, ReLU, max pooling) trained on the 128 px images of the `pathx` small preset, with
  the same train and test splits as the sequence model. It sees the picture as a picture, so it asks whether the data
  can be learned from 12,800 images, apart from the length of the sequence.
- `sequence`: the Path-X model (2 blocks of width 32, cosine-initialised kernel with one decay per channel, 1,600 steps of
  16) run by `python -m sgconv.train` on the 32 px Pathfinder with the same contours, 16,000 images: the same model and
  budget at 1,024 pixels instead of 16,384, so it asks whether the model and steps are enough before the length is.

`--collect` adds the rows of runs already made by `python -m sgconv.train` (a results file, with the `--set` options they
were run with) as sequence probes at their own resolution, so that a Path-X run at another difficulty sits in the same table.

The file keeps, for every probe, its settings, the accuracy on the test split (after each epoch for the CNN, with the
validation curve for the sequence model) and the command that made it.
"""
import argparse, csv, json, sys, time
from pathlib import Path
from typing import Sequence
import numpy as np, torch

DISTRACTORS = dict(image=(40, 0), sequence=(10, 0))   # one-paddle distractors: the `small` presets' numbers (Path-X, Pathfinder), and none
PATHX_MODEL = ('model.n_layers=2', 'model.d_model=32', 'model.kernel_dim=64', 'model.init=cosine',
               'model.decay=(0.3333333333333333,1.0)', 'train.batch_size=16', 'train.max_epochs=2', 'data.n=16000')

def cnn2d(width:int=64)->torch.nn.Module:
    "A small 2-D CNN for 128 px images: a stride-2 stem, then 3x3 convolutions with BatchNorm and max pooling to 8 x 8"
    def conv(i, o, k=3, s=1): return [torch.nn.Conv2d(i, o, k, stride=s, padding=k // 2), torch.nn.BatchNorm2d(o), torch.nn.ReLU()]
    w = width
    return torch.nn.Sequential(*conv(1, w // 4, 5, 2), *conv(w // 4, w // 2), torch.nn.MaxPool2d(2), *conv(w // 2, w), *conv(w, w),
                               torch.nn.MaxPool2d(2), *conv(w, w), torch.nn.MaxPool2d(2), *conv(w, w),
                               torch.nn.AdaptiveMaxPool2d(1), torch.nn.Flatten(), torch.nn.Linear(w, 2))

def pathx_split(split:str, root=None, **data)->tuple[torch.Tensor, torch.Tensor]:
    "Images (N, 1, 128, 128) in [0, 1] and labels of one split of the `pathx` small preset's data, with `data` overrides"
    from sgconv.presets import PRESETS
    from sgconv.data.pathfinder import PathfinderDataset
    ds = PathfinderDataset(split, source='generated', progress=False, root=root, **{**PRESETS['pathx']['small']['data'], **data})
    return torch.from_numpy(ds.images[ds.idx]).float()[:, None] / 255, ds.labels.long()

def image_probe(epochs:int=3, seed:int=0, lr:float=1e-3, batch_size:int=64, root=None, **data)->dict:
    "Train `cnn2d` on the Path-X images; the test accuracy after each epoch"
    torch.manual_seed(seed)
    (X, y), (Xt, yt) = pathx_split('train', root, **data), pathx_split('test', root, **data)
    net, t0, accs, losses = cnn2d(), time.time(), [], []
    opt = torch.optim.AdamW(net.parameters(), lr)
    for ep in range(epochs):
        net.train(); ls = []
        for idx in torch.randperm(len(X)).split(batch_size):
            loss = torch.nn.functional.cross_entropy(net(X[idx]), y[idx]); opt.zero_grad(); loss.backward(); opt.step(); ls.append(loss.item())
        net.eval()
        with torch.no_grad(): pred = torch.cat([net(Xt[i:i + 256]).argmax(-1) for i in range(0, len(Xt), 256)])
        accs.append(float((pred == yt).float().mean())); losses.append(float(np.mean(ls)))
        print(f"  image probe {data}: epoch {ep + 1} train loss {losses[-1]:.3f}, test accuracy {100 * accs[-1]:.1f}%", flush=True)
    return dict(probe='image', resolution=128, data=data, epochs=epochs, n_train=len(X), n_test=len(Xt), test_acc=accs,
                train_loss=losses, time_s=round(time.time() - t0, 1))

def val_curve(log_dir)->list[tuple[int, float]]:
    "(step, validation accuracy) of a run, from `sgconv.results.read_metrics`"
    from sgconv.results import read_metrics
    return list(zip(*read_metrics(log_dir)['val_acc']))

def sequence_probe(n_distractors:int, out:str='runs/pathx_probes', seed:int=0, preset:str='small', sets:tuple=PATHX_MODEL, root=None)->dict:
    "The Path-X model (`sets`) on the 32 px Pathfinder with `n_distractors` one-paddle distractors, through `python -m sgconv.train`"
    from sgconv.train import main
    sets = (*sets, f'data.n_distractors={n_distractors}')
    argv = ['--task', 'pathfinder', '--model', 'sgconv', '--preset', preset, '--seed', str(seed), '--out', f'{out}/d{n_distractors}',
            '--no-progress', '--no-tensorboard', *(['--data-root', str(root)] if root else []), '--set', *sets]
    row, = main(argv)
    return {**collected(row, sets), 'command': 'python -m sgconv.train ' + ' '.join(argv)}

def collected(row:dict, sets:Sequence[str]=())->dict:
    "A result row of `python -m sgconv.train` (Pathfinder or Path-X, run with `--set sets`) as a sequence probe"
    from sgconv.tasks import resolve_run
    from sgconv.train import parse_overrides
    run = resolve_run(row['task'], row['model'], row['preset'], parse_overrides(sets))
    argv = ['--task', row['task'], '--model', row['model'], '--preset', row['preset'], '--seed', str(row['seed']), *(['--set', *sets] if sets else [])]
    return dict(probe='sequence', resolution=run.data['resolution'], data=dict(n_distractors=run.data['n_distractors']), sets=list(sets),
                n_test=row['n_test'], steps=row['steps'], test_acc=row['test_acc'], val_curve=val_curve(row['log_dir']),
                time_s=round(row['train_time_s'], 1), command='python -m sgconv.train ' + ' '.join(argv))

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('dest', help='the JSON file to write, e.g. results/lra/pathx_probes.json')
    p.add_argument('--only', choices=('image', 'sequence'), help='run one probe only (the other rows of dest are kept)')
    p.add_argument('--distractors', default=None, help='comma-separated distractor counts (default: 40,0 for image, 10,0 for sequence)')
    p.add_argument('--epochs', type=int, default=3, help="the image probe's epochs")
    p.add_argument('--threads', type=int, default=1, help='torch threads')
    p.add_argument('--collect', default=None, help='a results file of sgconv.train runs to add as sequence probes (no training)')
    p.add_argument('--sets', nargs='*', default=[], help="with --collect: the runs' --set options")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    dest = Path(a.dest)
    rows = json.loads(dest.read_text())['rows'] if dest.exists() else []
    cmd = 'python tools/pathx_probes.py ' + ' '.join(sys.argv[1:])
    def save(rows, r):
        rows = [o for o in rows if (o['probe'], o['resolution'], o['data']['n_distractors']) != (r['probe'], r['resolution'], r['data']['n_distractors'])] + [r]
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(json.dumps(dict(rows=rows), indent=1) + '\n')
        print(f"{r['probe']} probe, {r['resolution']} px, {r['data']['n_distractors']} distractors: "
              f"test accuracy {100 * np.ravel(r['test_acc'])[-1]:.1f}% -> {dest}", flush=True)
        return rows
    if a.collect:
        from sgconv.results import load_results
        f = Path(a.collect)
        runs = load_results(f)
        if any(r.get('log_dir') and not Path(r['log_dir']).exists() for r in runs): runs = load_results(f, root=f.parent)
        for run in runs: rows = save(rows, collected(run, a.sets))
        sys.exit(0)
    for kind in [k for k in ('image', 'sequence') if a.only in (None, k)]:
        for d in ([int(d) for d in a.distractors.split(',')] if a.distractors else DISTRACTORS[kind]):
            r = image_probe(a.epochs, n_distractors=d) if kind == 'image' else sequence_probe(d)
            r.setdefault('command', cmd)
            rows = save(rows, r)

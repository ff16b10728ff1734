#!/usr/bin/env python
"""Collect the result rows that `python -m sgconv.train ... --results FILE.json` (or an archive of `sgconv.bert_train`)
wrote into a results folder of the repository (rows and each run's metrics.csv, via `sgconv.results.archive_runs`).

    python tools/collect_runs.py results/speech runs/speech/*-s*.json
    python tools/collect_runs.py results/bert runs/bert/arch-*/finetune.json --name finetune.json
    python tools/collect_runs.py results/lra runs/lra/kjv-retrieval-*.json --n-test   # rows from before runs recorded n_test

`--n-test` gives a row without `n_test` (written before `sgconv.train` recorded it) the size of its task's test split,
measured by building that split with the preset's data options: the data must be at hand, and a run made with `--set data.*`
overrides would be measured wrongly, so use it only for runs made with the preset as it is.
"""
import argparse, functools
from pathlib import Path
from sgconv.results import archive_runs, load_results

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('dest', help='a folder of the repository, e.g. results/speech')
p.add_argument('files', nargs='+', help='results files (.json) of sgconv.train or of an archive')
p.add_argument('--name', default='results.json', help='the rows file written in dest (default results.json)')
p.add_argument('--n-test', action='store_true', help="measure n_test (the test split's size) for rows that lack it")
a = p.parse_args()

@functools.cache
def _split_size(task:str, model:str, preset:str)->int:
    "The size of the test split of `task` for `model` at `preset`, built with the preset's data options"
    from sgconv.tasks import resolve_run
    from sgconv.harness import TaskDataModule
    run = resolve_run(task, model, preset)
    return len(TaskDataModule(task, batch_size=run.train.batch_size, progress=False, **run.data)._make('test'))  # the test split alone

def test_size(r:dict)->int:
    "The size of a row's test split, from its task's data module built with the preset's data options"
    return _split_size(r['task'], r['model'], r['preset'])

def rows_of(f:str)->list[dict]:
    "The rows of one file, their log folders taken from the current folder or, for an archive, from the file's own folder"
    rows = load_results(f)
    if any(r.get('log_dir') and not Path(r['log_dir']).exists() for r in rows): rows = load_results(f, root=Path(f).parent)
    return rows

rows = [r for f in a.files for r in rows_of(f)]
if a.n_test:
    for r in rows:
        if r.get('n_test') is None: r['n_test'] = test_size(r); print(f"{r['task']} {r['model']} seed {r['seed']}: n_test = {r['n_test']}")
kept = archive_runs(rows, a.dest, name=a.name)
print(f'{len(rows)} rows collected into {a.dest}/{a.name} ({len(kept)} rows there)')

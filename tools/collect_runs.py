#!/usr/bin/env python
"""Collect the result rows that `python -m sgconv.train ... --results FILE.json` (or an archive of `sgconv.bert_train`)
wrote into a results folder of the repository (rows and each run's metrics.csv, via `sgconv.results.archive_runs`).

    python tools/collect_runs.py results/speech runs/speech/*-s*.json
    python tools/collect_runs.py results/bert runs/bert/arch-*/finetune.json --name finetune.json
"""
import argparse
from pathlib import Path
from sgconv.results import archive_runs, load_results

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('dest', help='a folder of the repository, e.g. results/speech')
p.add_argument('files', nargs='+', help='results files (.json) of sgconv.train or of an archive')
p.add_argument('--name', default='results.json', help='the rows file written in dest (default results.json)')
a = p.parse_args()

def rows_of(f:str)->list[dict]:
    "The rows of one file, their log folders taken from the current folder or, for an archive, from the file's own folder"
    rows = load_results(f)
    if any(r.get('log_dir') and not Path(r['log_dir']).exists() for r in rows): rows = load_results(f, root=Path(f).parent)
    return rows

rows = [r for f in a.files for r in rows_of(f)]
kept = archive_runs(rows, a.dest, name=a.name)
print(f'{len(rows)} rows collected into {a.dest}/{a.name} ({len(kept)} rows there)')

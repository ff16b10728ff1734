#!/usr/bin/env python
"""Collect the result rows that `python -m sgconv.train ... --results FILE.json` wrote into a results folder of the
repository (rows and each run's metrics.csv, via `sgconv.results.archive_runs`).

    python tools/collect_runs.py results/speech runs/speech/*-s*.json
"""
import argparse, json
from sgconv.results import archive_runs, load_results

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument('dest', help='a folder of the repository, e.g. results/speech')
p.add_argument('files', nargs='+', help='results files (.json) of sgconv.train')
a = p.parse_args()
rows = [r for f in a.files for r in load_results(f)]
kept = archive_runs(rows, a.dest)
print(f'{len(rows)} rows collected into {a.dest}/results.json ({len(kept)} rows there)')

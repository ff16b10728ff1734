"The ablation harness: settings, summaries and a parallel smoke sweep in worker processes"
import json, subprocess, sys

import pytest

from sgconv.ablation import ablation_configs, run_ablation, summarize_ablation


def test_configs_share_the_common_point():
    cfgs = ablation_configs((0.0, 1.0), (4, 8))
    assert sorted((c['t'], c['d'], c['sweeps']) for c in cfgs) == [(0.0, 8, 't'), (1.0, 4, 'd'), (1.0, 8, 'dt')]


def test_bad_arguments():
    with pytest.raises(ValueError, match='jobs'): run_ablation('image', 'smoke', jobs=0)
    with pytest.raises(ValueError, match='unknown'): run_ablation('image', 'smoke', overrides={'model.nope': 1})


def test_parallel_smoke_sweep(tmp_path):
    "Two worker processes with one thread each give the same rows as one process"
    kw = dict(seeds=(0,), ts=(0.0, 1.0), ds=(8,), progress=False, root=tmp_path/'data')
    serial = run_ablation('image', 'smoke', out_dir=tmp_path/'a', **kw)
    parallel = run_ablation('image', 'smoke', out_dir=tmp_path/'b', jobs=2, threads=1, **kw)
    assert [(r['t'], r['d'], r['seed']) for r in parallel] == [(r['t'], r['d'], r['seed']) for r in serial]
    assert [r['params'] for r in parallel] == [r['params'] for r in serial]
    summ = summarize_ablation(parallel)
    assert [(s['sweep'], s['value'], s['n']) for s in summ] == [('t', 0.0, 1), ('t', 1.0, 1), ('d', 8, 1)]


def test_cli_overrides_and_results(tmp_path):
    out = subprocess.run([sys.executable, '-m', 'sgconv.ablation', '--task', 'image', '--preset', 'smoke', '--seeds', '0',
                          '--ts', '0,1', '--ds', '8', '--set', 'model.d_model=4', '--out-dir', str(tmp_path/'runs'),
                          '--data-root', str(tmp_path/'data'), '--csv', str(tmp_path/'abl.json')],
                         capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = json.loads((tmp_path/'abl.json').read_text())
    assert len(rows) == 2 and all(0 <= r['test_acc'] <= 1 for r in rows)
    assert 'test acc (mean ± std)' in out.stdout
    bad = subprocess.run([sys.executable, '-m', 'sgconv.ablation', '--preset', 'smoke', '--set', 'model.d_model'],
                         capture_output=True, text=True, cwd=tmp_path)
    assert bad.returncode != 0 and 'SECTION.KEY=VALUE' in bad.stderr

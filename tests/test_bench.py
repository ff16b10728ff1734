"Tests for `sgconv.bench`: the quick benchmark runs end to end and writes the right columns and rows (no timing assertions)"
import csv
import json
import os
import subprocess
import sys

import pytest
import torch

from sgconv.bench import (COLUMNS, SECTIONS, BLOCKS, DEFAULT_BLOCKS, BenchConfig, make_block, time_interleaved,
                          targets, pivot, format_table, main, _row)


@pytest.fixture(scope='module')
def quick(tmp_path_factory):
    "One quick run through the command-line entry point, with its CSV and JSON files"
    d = tmp_path_factory.mktemp('bench')
    res = main(['--quick', '--threads', '1', '--quiet', '--csv', str(d / 'b.csv'), '--json', str(d / 'b.json')])
    with open(d / 'b.csv') as f: rows = list(csv.DictReader(f))
    with open(d / 'b.json') as f: saved = json.load(f)
    return res, rows, saved


def test_quick_csv_columns_and_sections(quick):
    res, rows, saved = quick
    assert list(rows[0]) == COLUMNS
    assert {r['section'] for r in rows} == set(SECTIONS)
    assert len(rows) == len(res['rows']) == len(saved['rows'])


def test_quick_rows_per_section(quick):
    _, rows, _ = quick
    cfg = BenchConfig.quick()
    by = lambda sec: [r for r in rows if r['section'] == sec]
    nL = len(cfg.lengths)
    assert len(by('kernel')) == nL * 3 * 2                                     # 3 kernels x 2 passes
    assert {r['name'] for r in by('kernel')} == {'sgconv', 's4', 's4d'}
    blocks = {(r['name'], r['pass']) for r in by('block')}
    assert blocks == {(b, p) for b in DEFAULT_BLOCKS for p in ('fwd', 'fwd+bwd')}   # math attention fits at quick sizes
    assert len(by('memory')) == len(cfg.memory_lengths) * len(cfg.memory_blocks) * len(cfg.memory_passes)
    assert all(r['unit'] == 'MB' and float(r['median']) > 0 for r in by('memory'))
    assert {r['name'] for r in by('floor')} == {'floor', 'fft-only', 'conv', 'conv-simple'}
    assert len(by('share')) == nL * 7
    assert [(r['name'], int(r['L'])) for r in by('generation')] == [(n, T) for T in cfg.gen_contexts for n in ('step', 'prefix')]
    for r in rows:
        assert int(r['repeats']) >= 1 and float(r['min']) <= float(r['median']) + 1e-9


def test_quick_json_has_machine_config_targets(quick):
    _, _, saved = quick
    assert saved['machine']['cores'] == os.cpu_count() and saved['machine']['threads'] == 1
    assert saved['config']['lengths'] == list(BenchConfig.quick().lengths)
    assert {'target', 'measured', 'threshold', 'direction', 'met', 'detail'} <= set(saved['targets'][0])
    assert len(saved['load_avg_end']) == 3


def test_module_entry_point(tmp_path):
    "python -m sgconv.bench works as a program (one small section)"
    out = subprocess.run([sys.executable, '-m', 'sgconv.bench', '--quick', '--quiet', '--threads', '1', '--sections', 'kernel',
                          '--csv', str(tmp_path / 'k.csv')], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert '== kernel ==' in out.stdout
    with open(tmp_path / 'k.csv') as f: assert f.readline().strip().split(',') == COLUMNS


def test_targets_from_rows():
    rows = [_row('block', 'sgconv', 4096, 'fwd+bwd', 4, 128, [0.01]), _row('block', 'attention', 4096, 'fwd+bwd', 4, 128, [0.05]),
            _row('memory', 'sgconv', 16384, 'fwd+bwd', 4, 128, [100.], 'MB'), _row('memory', 'attention', 16384, 'fwd+bwd', 4, 128, [200.], 'MB')]
    t = {d['target']: d for d in targets(rows)}
    assert t['block fwd+bwd L=4096: attention / sgconv']['met'] is True
    assert t['block fwd+bwd L=4096: s4 / sgconv']['met'] is None            # not measured
    assert t['peak memory L=16384 fwd+bwd: sgconv / attention']['met'] is False
    assert abs(t['peak memory L=16384 fwd+bwd: sgconv / attention']['measured'] - 0.5) < 1e-9
    head, body = pivot(rows, 'block')
    assert head[0] == 'L' and body[0][0] == 4096 and 'sgconv fwd+bwd (ms)' in head
    assert 'sgconv' in format_table(head, body)


def test_time_interleaved_rotates():
    calls = []
    ts = time_interleaved({'a': lambda: calls.append('a'), 'b': lambda: calls.append('b')}, repeats=2, warmup=0)
    assert calls == ['a', 'b', 'b', 'a'] and all(len(v) == 2 for v in ts.values())
    with pytest.raises(ValueError, match='repeats'): time_interleaved({'a': lambda: 0}, repeats=0)


def test_attention_block_causal_and_backends_agree():
    torch.manual_seed(0)
    a, m = make_block('attention', 16, 40), make_block('attention-math', 16, 40)
    m.load_state_dict(a.state_dict())
    x = torch.randn(2, 40, 16); x2 = x.clone(); x2[:, 25:] += 1
    with torch.no_grad():
        assert torch.allclose(a(x), m(x), atol=1e-5)
        assert torch.allclose(a(x2)[:, :25], a(x)[:, :25], atol=1e-6)
    with pytest.raises(ValueError, match='must divide'): make_block('attention', 10, 40, heads=4)


def test_make_block_and_config_errors():
    for kind in BLOCKS: assert make_block(kind, 16, 32, kernel_dim=8, d_state=8)(torch.randn(1, 32, 16)).shape == (1, 32, 16)
    with pytest.raises(ValueError, match='unknown block'): make_block('gru', 16, 32)
    with pytest.raises(ValueError, match='unknown section'): BenchConfig(sections=('speed',))
    with pytest.raises(ValueError, match='batch'): BenchConfig(batch=0)

"Tests for the classifier harness (`sgconv.models`, `sgconv.tasks`, `sgconv.harness`, `sgconv.train`): masks, shapes, sizes, a smoke run of every LRA task x model, and 2-process CPU DDP with resume"
import json, os, subprocess, sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from sgconv.data.core import TaskInfo, pad_collate
from sgconv.data.images import write_fake_cifar10
from sgconv.data.text import _tiny_imdb, _tiny_aan
from sgconv.blocks import MaskedBatchNorm, length_mask
from sgconv.mixers import LocalKernel, SelfAttention
from sgconv.models import MODELS, ModelConfig, SeqClassifier, LRAModel, build_model, count_params, masked_pool, model_config
from sgconv.layer import GlobalConv
from sgconv.optim import cosine_warmup, param_groups
from sgconv.presets import PRESETS
from sgconv.tasks import TASKS, resolve_run
from sgconv.results import results_markdown, write_results
from sgconv.harness import ClassifierModule, LRAModule, load_checkpoint
from sgconv.train import main, run

TOK = TaskInfo('listops', n_tokens=18, d_input=1, n_classes=10, l_max=48)
IMG = TaskInfo('pathfinder32', None, 1, 2, 48)
PAIR = TaskInfo('aan', 20, 1, 2, 32, pairs=True)
SIZE = dict(d_model=16, n_layers=2)
PER_MODEL = {'sgconv': dict(kernel_dim=4), 's4': dict(d_state=8), 's4d': dict(d_state=8), 'cnn': {}, 'transformer': {}}
SEQ_MODELS = [m for m, e in MODELS.items() if e.backbone == 'seq']


def small(model): return {**SIZE, **PER_MODEL[model]}


def seqs(n=(48, 30, 7), vocab=18, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(2, vocab, (k,), generator=g) for k in n]


# ---------------------------------------------------------------- models

def test_length_mask_and_pool():
    m = length_mask(torch.tensor([3, 1]), 4)
    assert m.tolist() == [[True, True, True, False], [True, False, False, False]]
    x = torch.arange(8.).view(2, 4, 1)
    assert masked_pool(x, m).flatten().tolist() == [1.0, 4.0]
    assert masked_pool(x, m, 'last').flatten().tolist() == [2.0, 4.0]
    with pytest.raises(ValueError, match='lengths must lie'): length_mask(torch.tensor([5]), 4)
    with pytest.raises(ValueError, match="'mean' or 'last'"): masked_pool(x, m, 'max')


def test_masked_batchnorm_matches_batchnorm_and_ignores_padding():
    bn, ref = MaskedBatchNorm(4), torch.nn.BatchNorm1d(4)
    x = torch.randn(3, 5, 4)
    torch.testing.assert_close(bn(x), ref(x.transpose(1, 2)).transpose(1, 2), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(bn.running_var, ref.running_var)
    bn = MaskedBatchNorm(4)
    y = bn(x, length_mask(torch.tensor([5, 2, 1]), 5))
    packed = torch.cat([x[0], x[1, :2], x[2, :1]])[None]
    torch.testing.assert_close(torch.cat([y[0], y[1, :2], y[2, :1]]), MaskedBatchNorm(4)(packed)[0], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('bidirectional', [True, False])
def test_local_kernel_is_a_depthwise_conv(bidirectional):
    H, L, w = 3, 16, 5
    layer = GlobalConv(LocalKernel(H, L, w, bidirectional=bidirectional), H, L, bidirectional=bidirectional, activation=None, output='none')
    with torch.no_grad(): layer.D.zero_()
    u = torch.randn(2, L, H)
    wt = layer.kernel.weight[0].unsqueeze(1)                                            # (H, 1, w)
    if bidirectional: ref = F.conv1d(u.transpose(1, 2), wt, padding=w // 2, groups=H)
    else: ref = F.conv1d(F.pad(u.transpose(1, 2), (w - 1, 0)), wt.flip(-1), groups=H)
    torch.testing.assert_close(layer(u), ref.transpose(1, 2), atol=1e-5, rtol=1e-5)


def test_attention_masks_padded_keys():
    att = SelfAttention(8, 2)
    x = torch.randn(2, 6, 8)
    y = att(x, length_mask(torch.tensor([6, 4]), 6))
    torch.testing.assert_close(y[1, :4], att(x[1:, :4])[0], atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match='must divide'): SelfAttention(6, 4)


@pytest.mark.parametrize('model', SEQ_MODELS)
@pytest.mark.parametrize('kw', [dict(), dict(norm='layer', prenorm=False, pool='last'), dict(bidirectional=False)])
def test_padded_batch_equals_each_sequence_alone(model, kw):
    torch.manual_seed(0)
    ss = seqs()
    x, lengths, _ = pad_collate([(s, 0) for s in ss])
    m = build_model(TOK, model, **small(model), **kw).eval()
    with torch.no_grad():
        out = m(x, lengths)
        alone = torch.cat([m(s[None]) for s in ss])
    assert out.shape == (3, 10)
    torch.testing.assert_close(out, alone, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize('model', SEQ_MODELS)
def test_extra_padding_changes_nothing_in_training(model):
    torch.manual_seed(0)
    m = build_model(TOK, model, **small(model)).train()
    x, lengths, _ = pad_collate([(s, 0) for s in seqs((30, 7))])
    torch.testing.assert_close(m(x, lengths), m(F.pad(x, (0, 12)), lengths), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize('model', SEQ_MODELS)
def test_real_inputs_and_pairs(model):
    torch.manual_seed(0)
    m = build_model(IMG, model, **small(model))
    assert m(torch.randn(4, 48, 1)).shape == (4, 2)
    m = build_model(PAIR, model, **small(model)).eval()
    pairs = [((a, b), 1) for a, b in zip(seqs((32, 9), 20), seqs((5, 20), 20, seed=1))]
    (a, b), (la, lb), _ = pad_collate(pairs)
    with torch.no_grad():
        torch.testing.assert_close(m((a, b), (la, lb)), torch.cat([m((p[0][None], p[1][None])) for p, _ in pairs]), atol=1e-4, rtol=1e-4)


def test_model_errors():
    m = build_model(TOK, 'sgconv', **small('sgconv'))
    with pytest.raises(TypeError, match='takes token ids'): m(torch.randn(2, 10))
    with pytest.raises(ValueError, match=r'token ids must lie in \[0, 18\)'): m(torch.randint(0, 30, (2, 10)))
    with pytest.raises(ValueError, match='l_max=48'): m(torch.randint(0, 18, (2, 49)))
    with pytest.raises(TypeError, match='takes pairs'): build_model(PAIR, 'sgconv', **small('sgconv'))(torch.randint(0, 5, (2, 8)))
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['widht'\]"): build_model(TOK, 'sgconv', widht=3)
    with pytest.raises(ValueError, match=r"\['d_state'\] for model 'sgconv'.*option of s4, s4d"): build_model(TOK, 'sgconv', d_state=8)
    with pytest.raises(ValueError, match="unknown model 'lstm'"): build_model(TOK, 'lstm')
    with pytest.raises(ValueError, match='empty batch'): m(torch.randint(0, 18, (0, 10)))
    with pytest.raises(ValueError, match='odd kernel_size'): LocalKernel(4, 16, 4, bidirectional=True)


def test_parameter_counts_comparable():
    counts = {}
    for model in SEQ_MODELS:
        torch.manual_seed(0)
        counts[model] = count_params(build_model(TaskInfo('listops', 18, 1, 10, 2048), model, d_model=128, n_layers=8,
                                                 **(dict(kernel_dim=1) if model == 'sgconv' else {})))
    assert max(counts.values()) / min(counts.values()) < 3.5, counts


@pytest.mark.parametrize('model', SEQ_MODELS)
def test_each_model_trains(model):
    torch.manual_seed(0)
    m = build_model(TOK, model, **small(model))
    x, lengths, _ = pad_collate([(s, 0) for s in seqs()])
    y = torch.tensor([1, 2, 3])
    opt = torch.optim.AdamW(m.parameters(), 1e-2)
    losses = []
    for _ in range(8):
        loss = F.cross_entropy(m(x, lengths), y); opt.zero_grad(); loss.backward(); opt.step(); losses.append(loss.item())
    assert losses[-1] < losses[0], losses


# ---------------------------------------------------------------- training pieces

def test_param_groups():
    m = build_model(TOK, 'sgconv', **small('sgconv'))
    gs = param_groups(m, 0.01, 0.05)
    assert sum(len(g['params']) for g in gs) == len(list(m.parameters()))
    k = [g for g in gs if any('kernel.weight' in n for n in g['names'])][0]
    assert (k['lr'], k['weight_decay']) == (0.001, 0.05)
    assert all(g['weight_decay'] == 0 for g in gs if any(n.endswith('bias') or 'norm' in n for n in g['names']))
    s = [g for g in param_groups(build_model(TOK, 's4', **small('s4')), 0.01, 0.05) if any('log_dt' in n for n in g['names'])][0]
    assert (s['lr'], s['weight_decay']) == (0.001, 0.0)


def test_cosine_warmup():
    f = [cosine_warmup(s, 10, 110) for s in range(111)]
    assert f[0] > 0 and f[10] == pytest.approx(1.0) and f[60] == pytest.approx(0.5) and f[110] == pytest.approx(0.0)
    assert all(a <= b for a, b in zip(f[:10], f[1:11])) and all(a >= b for a, b in zip(f[10:], f[11:]))


def test_presets():
    assert set(PRESETS) <= set(TASKS)
    for task, presets in PRESETS.items():
        for preset in presets:
            for model in (SEQ_MODELS if TASKS[task].backbone == 'seq' else []):
                assert isinstance(resolve_run(task, model, preset).model_config, ModelConfig)
    c = resolve_run('listops', 's4d', 'paper', {'train.lr': 0.002})
    assert (c.model, c.model_options['n_layers'], c.model_options['d_model'], c.train.lr) == ('s4d', 8, 128, 0.002)
    assert c.model_config.mixer.d_state == 64 and 'kernel_dim' not in c.model_options
    with pytest.raises(ValueError, match="unknown preset 'huge'"): resolve_run('listops', 'sgconv', 'huge')
    with pytest.raises(ValueError, match='must look like'): resolve_run('listops', overrides={'lr': 1})


def test_model_config_round_trip_and_aliases():
    cfg = model_config('transformer', d_model=32, n_heads=2)
    assert ModelConfig.from_options(**cfg.to_options()) == cfg and (cfg.ffn_mult, cfg.mixer.n_heads) == (1, 2)
    assert LRAModel is SeqClassifier and LRAModule is ClassifierModule


# ---------------------------------------------------------------- smoke runs of every task x model

@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('data')
    (root/'imdb').mkdir(); _tiny_imdb(root/'imdb')
    (root/'aan').mkdir(); _tiny_aan(root/'aan')
    write_fake_cifar10(root/'cifar10', n=8)
    return root


SMOKE = [('listops', {}), ('text', {}), ('retrieval', {}), ('image', {}),
         ('image', {'data.name': 'cifar10', 'data.verify': False}), ('pathfinder', {})]


@pytest.mark.parametrize('task,ov', SMOKE, ids=['listops', 'text', 'retrieval', 'digits', 'cifar', 'pathfinder'])
@pytest.mark.parametrize('model', SEQ_MODELS)
def test_smoke_run(task, ov, model, data_root, tmp_path):
    r = run(task, model, 'smoke', ov, root=data_root, out_dir=tmp_path, progress=False, loggers=())
    assert 0 <= r['test_acc'] <= 1 and r['steps'] >= 1 and r['params'] > 0
    assert Path(r['best_ckpt']).exists()


def test_smoke_pathx(data_root, tmp_path):
    r = run('pathx', 'sgconv', 'smoke', root=data_root, out_dir=tmp_path, progress=False, loggers=())
    assert r['steps'] == 1 and load_checkpoint(r['last_ckpt']).model.info.l_max == 128 * 128


def test_resume_and_results(data_root, tmp_path):
    r = run('listops', 'cnn', 'smoke', root=data_root, out_dir=tmp_path, progress=False)
    assert (r['epochs'], r['steps']) == (1, 2) and (Path(r['log_dir'])/'metrics.csv').exists()
    r2 = run('listops', 'cnn', 'smoke', {'train.max_epochs': 2}, root=data_root, out_dir=tmp_path, ckpt_path=r['last_ckpt'], progress=False, loggers=())
    assert (r2['epochs'], r2['steps']) == (2, 4)
    for suffix in ('csv', 'json', 'md'): write_results([r, r2], tmp_path/f'res.{suffix}')
    assert '| listops | cnn | smoke |' in results_markdown([r])
    assert len(json.loads((tmp_path/'res.json').read_text())) == 2


def test_collect_runs_measures_missing_n_test(data_root, tmp_path):
    "tools/collect_runs.py --n-test gives a row written before runs recorded n_test the size of its preset's test split"
    r = run('listops', 'cnn', 'smoke', root=data_root, out_dir=tmp_path, progress=False)
    assert r['n_test'] == 8
    old = {k: v for k, v in r.items() if k != 'n_test'}
    write_results([old], tmp_path/'old.json')
    tool = Path(__file__).resolve().parents[1]/'tools'/'collect_runs.py'
    env = {**os.environ, 'SGCONV_DATA': str(data_root), 'PYTHONWARNINGS': 'ignore'}
    out = subprocess.run([sys.executable, str(tool), str(tmp_path/'dest'), str(tmp_path/'old.json'), '--n-test'],
                         capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert 'listops cnn seed 0: n_test = 8' in out.stdout
    (row,) = json.loads((tmp_path/'dest'/'results.json').read_text())
    assert row['n_test'] == 8


def test_missing_data_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='aclImdb_v1.tar.gz'):
        run('text', 'sgconv', 'smoke', root=tmp_path, out_dir=tmp_path, progress=False, loggers=())


# ---------------------------------------------------------------- command line and DDP

def _cli(args, cwd):
    env = {**os.environ, 'PYTHONWARNINGS': 'ignore'}
    out = subprocess.run([sys.executable, '-m', 'sgconv.train', *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    return out


def test_cli_ddp_two_cpu_processes_and_resume(data_root, tmp_path):
    common = ['--task', 'listops', '--model', 'sgconv', '--preset', 'smoke', '--accelerator', 'cpu', '--devices', '2', '--strategy', 'ddp',
              '--no-progress', '--no-tensorboard', '--data-root', str(data_root), '--out', str(tmp_path/'runs')]
    out = _cli(common + ['--results', str(tmp_path/'a.json')], tmp_path)
    assert '| listops | sgconv | smoke |' in out.stdout
    (row,) = json.loads((tmp_path/'a.json').read_text())
    assert (row['world_size'], row['epochs'], row['steps']) == (2, 1, 2) and Path(row['last_ckpt']).exists()
    assert row['n_test'] == 8                                    # the whole test set's size, not one process's share
    _cli(common + ['--resume', row['last_ckpt'], '--set', 'train.max_epochs=2', '--results', str(tmp_path/'b.json')], tmp_path)
    (row2,) = json.loads((tmp_path/'b.json').read_text())
    assert (row2['world_size'], row2['epochs'], row2['steps']) == (2, 2, 4)


def test_cli_errors(capsys):
    with pytest.raises(SystemExit, match='unknown task'): main(['--task', 'mnist', '--preset', 'smoke'])
    with pytest.raises(SystemExit, match='SECTION.KEY=VALUE'): main(['--set', 'lr'])
    with pytest.raises(SystemExit, match='twice'): main(['--preset', 'smoke', '--set', 'train.lr=1', '--set', 'train.lr=2'])


def test_cli_every_set_takes_effect(data_root, tmp_path):
    _cli(['--task', 'listops', '--model', 'cnn', '--preset', 'smoke', '--no-progress', '--no-tensorboard', '--data-root', str(data_root),
          '--out', str(tmp_path/'runs'), '--results', str(tmp_path/'a.json'), '--set', 'train.max_epochs=2', '--set', 'model.d_model=6'], tmp_path)
    (row,) = json.loads((tmp_path/'a.json').read_text())
    assert row['epochs'] == 2 and load_checkpoint(row['last_ckpt']).hparams.model['d_model'] == 6


def _pathx_probes():
    import importlib.util
    spec = importlib.util.spec_from_file_location('pathx_probes', Path(__file__).resolve().parents[1]/'tools'/'pathx_probes.py')
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    return mod


def test_pathx_probes_image_and_sequence(data_root, tmp_path):
    "tools/pathx_probes.py: the 2-D CNN probe reads the Path-X splits at 128 px; the sequence probe trains through sgconv.train"
    probes = _pathx_probes()
    assert probes.cnn2d()(torch.zeros(3, 1, 128, 128)).shape == (3, 2)
    r = probes.image_probe(epochs=2, root=tmp_path/'px', n=40, n_jobs=1, n_distractors=0)
    assert (r['n_train'], r['n_test']) == (32, 4) and len(r['test_acc']) == 2 and all(0 <= a <= 1 for a in r['test_acc'])
    assert r['data'] == dict(n=40, n_jobs=1, n_distractors=0)
    s = probes.sequence_probe(0, out=str(tmp_path/'runs'), preset='smoke', sets=('model.n_layers=1', 'model.d_model=8', 'data.n=40'),
                              root=data_root)
    assert s['resolution'] == 32 and s['sets'][-1] == 'data.n_distractors=0' and s['val_curve'] and 0 <= s['test_acc'] <= 1
    assert s['command'].startswith('python -m sgconv.train --task pathfinder') and '--preset smoke' in s['command']
    row, = main(['--task', 'pathx', '--preset', 'smoke', '--no-progress', '--no-tensorboard', '--data-root', str(data_root),
                 '--out', str(tmp_path/'px-runs'), '--set', 'data.n_distractors=0'])
    c = probes.collected(row, ['data.n_distractors=0'])
    assert (c['resolution'], c['data'], c['steps'], c['n_test']) == (128, dict(n_distractors=0), row['steps'], row['n_test'])
    assert c['command'].endswith('--seed 0 --set data.n_distractors=0') and c['val_curve']

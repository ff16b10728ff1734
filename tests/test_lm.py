"Tests for the language models (`sgconv.pattern`, `sgconv.txl`, `sgconv.lm`, `sgconv.lm_train`): patterns, attention with memory, causality, generation, bad input, every task x model through the command line, 2-process CPU DDP and resume."
import json, math, os, subprocess, sys
from pathlib import Path

import pytest
import torch

from sgconv.data.core import TaskInfo
from sgconv.data.kjv import _fake_bible
from sgconv.data.lm import _write_tiny_wikitext
from sgconv.models import build_model, MODELS
from sgconv.pattern import parse_pattern, sgconv_depth, random_orderings, PatternError
from sgconv.txl import RelMultiHeadAttn, rel_shift, attention_mask, update_memory
from sgconv.lm import LanguageModel
from sgconv.harness import load_checkpoint

torch.set_num_threads(1)
LM_MODELS = ['txl16', 'txl18', 'hybrid16', 'hybrid18', 'sgconv-lm']
INFO = TaskInfo('toy', n_tokens=40, d_input=1, n_classes=40, l_max=24)
SMALL = dict(d_model=16, n_heads=2, ffn_mult=2, kernel_dim=4, dropout=0.0, mem_len=6)
TOY = {'txl16': 'Ax3', 'txl18': 'Ax2', 'hybrid16': 'AAC', 'hybrid18': 'CAC', 'sgconv-lm': 'Cx2'}


def toy(model, **kw):
    torch.manual_seed(0)
    extra = {'attn_len': 6} if model.startswith('hybrid') else {}
    return build_model(INFO, model, pattern=TOY[model], **{**SMALL, **extra, **kw}).eval()


# ---------------------------------------------------------------- patterns

def test_patterns():
    assert ''.join(parse_pattern('{A,A,C}x3+{A,C,C}x3')) == 'AACAACAACACCACCACC'
    assert ''.join(parse_pattern('{A,A,A,C}x2+{A,C,C,C}x2')) == 'AAACAAACACCCACCC'
    for bad, msg in [('{A,A', 'never closed'), ('{A,X}', "unknown block kind 'X'"), ('Ax', 'needs a count'), ('', 'empty pattern'),
                     ('A}', 'without an opening'), ('{A}x0', 'at least 1')]:
        with pytest.raises(PatternError, match=msg): parse_pattern(bad)
    assert sgconv_depth('CCAA') == (0 + 1) / 4 and sgconv_depth('AACC') == (2 + 3) / 4
    o = random_orderings({'A': 4, 'C': 4}, 12, seed=1)
    assert len(set(o)) == 12 and o == random_orderings({'A': 4, 'C': 4}, 12, seed=1)


# ---------------------------------------------------------------- attention

def test_rel_shift_definition():
    x = torch.randn(3, 4, 9)                                               # 4 queries, 5 memory keys
    y = rel_shift(x)
    for i in range(4):
        for j in range(i + 6): assert torch.equal(y[:, i, j], x[:, i, 8 - (i + 5 - j)])


@pytest.mark.parametrize('attn_len,mem_len', [(None, 0), (None, 4), (3, 3), (4, 6)])
def test_attention_matches_masked_full_attention(attn_len, mem_len):
    torch.manual_seed(0)
    att = RelMultiHeadAttn(8, 2, mem_len=mem_len, attn_len=attn_len).eval()
    x, mem = torch.randn(2, 10, 8), (torch.randn(2, mem_len, 8) if mem_len else None)
    lm = mem_len
    cat = x if mem is None else torch.cat([mem, x], 1)
    q, k, v = (t.view(2, lm + 10, 2, 4) for t in att.qkv(cat).chunk(3, -1))
    q = q[:, lm:]
    from sgconv.txl import rel_positions
    R = att.r_net(rel_positions(lm + 10, 8)).view(lm + 10, 2, 4)
    dist = (torch.arange(10)[:, None] + lm - torch.arange(lm + 10)[None]).clamp(min=0)
    s = (torch.einsum('biNd,bjNd->bNij', q + att.u, k) + torch.einsum('biNd,ijNd->bNij', q + att.v, R[lm + 9 - dist])) * att.scale
    s = s.masked_fill(~attention_mask(10, lm, attn_len=attn_len, mem_len=mem_len), float('-inf'))
    ref = att.out(torch.einsum('bNij,bjNd->biNd', s.softmax(-1), v).reshape(2, 10, 8))
    with torch.no_grad(): assert torch.allclose(att(x, mem), ref, atol=1e-5)


def test_memory_is_detached_and_cut():
    h = torch.randn(1, 5, 3, requires_grad=True)
    m = update_memory(torch.zeros(1, 2, 3), h, 4)
    assert m.shape == (1, 4, 3) and not m.requires_grad and torch.equal(m, h[:, 1:].detach())


# ---------------------------------------------------------------- models

@pytest.mark.parametrize('prenorm', [False, True])
def test_segments_with_memory_equal_one_banded_pass(prenorm):
    seg, one = toy('txl16', prenorm=prenorm), toy('txl16', prenorm=prenorm, attn_len=6)
    one.load_state_dict(seg.state_dict())
    x = torch.randint(0, 40, (2, 24))
    with torch.no_grad():
        mem, outs = None, []
        for s in range(0, 24, 6):
            lp, mem = seg(x[:, s:s + 6], mem); outs.append(lp)
        assert torch.allclose(torch.cat(outs, 1), one(x)[0], atol=1e-5)


@pytest.mark.parametrize('model', LM_MODELS)
def test_causal(model):
    net = toy(model)
    x = torch.randint(0, 40, (2, 24))
    _, mem = net(torch.randint(0, 40, (2, 24)))
    for t in (0, 5, 6, 13, 22):
        x2 = x.clone(); x2[:, t + 1:] = torch.randint(0, 40, x2[:, t + 1:].shape)
        with torch.no_grad():
            for m in (None, mem): assert (net(x, m)[0][:, :t + 1] - net(x2, m)[0][:, :t + 1]).abs().max() < 1e-5


@pytest.mark.parametrize('model', LM_MODELS)
def test_greedy_generation_is_the_forward_argmax(model):
    net = toy(model)
    for L0 in (1, 7):
        prompt = torch.randint(0, 40, (2, L0))
        g = net.generate(prompt, 24 - L0, temperature=0)
        with torch.no_grad(): assert torch.equal(net(g[:, :-1])[0].argmax(-1)[:, L0 - 1:], g[:, L0:])
        assert torch.equal(net.generate(prompt, 24 - L0, temperature=0, cache=False), g)


def test_bad_input():
    net = toy('hybrid16')
    with pytest.raises(ValueError, match=r'token ids must lie in \[0, 40\)'): net(torch.tensor([[1, 40]]))
    with pytest.raises(ValueError, match="model's length is l_max=24"): net(torch.zeros(1, 25, dtype=torch.long))
    with pytest.raises(ValueError, match='prompt is empty'): net.generate([], 3)
    with pytest.raises(ValueError, match='exceeds the model'): net.generate([1, 2], 23)
    with pytest.raises(ValueError, match='token ids must lie'): net.generate([1, 99], 2)
    with pytest.raises(TypeError, match='integer tensor'): net(torch.randn(1, 3))
    with pytest.raises(ValueError, match='cutoffs must increase'): build_model(INFO, 'txl16', head='adaptive', cutoffs=(50,), **SMALL)
    with pytest.raises(ValueError, match='unknown option'): build_model(INFO, 'txl16', n_head=2)


def test_registered_models():
    assert {m: ''.join(parse_pattern(MODELS[m].options['pattern'])).count('C') for m in LM_MODELS} == \
        {'txl16': 0, 'txl18': 0, 'hybrid16': 8, 'hybrid18': 9, 'sgconv-lm': 16}


# ---------------------------------------------------------------- command line, DDP, resume, sample

@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('lmdata')
    (root/'wt103').mkdir(); _write_tiny_wikitext(root/'wt103')
    return root, _fake_bible(root/'bin', books=(0, 5, 6, 40))


def _cli(args, cwd, module='sgconv.train'):
    env = {**os.environ, 'PYTHONWARNINGS': 'ignore', 'OMP_NUM_THREADS': '1'}
    out = subprocess.run([sys.executable, '-m', module, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    return out


def test_every_task_and_model_smoke(data_root, tmp_path):
    root, fake = data_root
    common = ['--model', ','.join(LM_MODELS), '--preset', 'smoke', '--no-progress', '--no-tensorboard', '--data-root', str(root), '--out', str(tmp_path/'runs')]
    _cli(['--task', 'kjv-word,kjv-byte', '--set', f'data.program={fake}', '--results', str(tmp_path/'kjv.json')] + common, tmp_path)
    _cli(['--task', 'wt103', '--results', str(tmp_path/'wt.json')] + common, tmp_path)
    rows = json.loads((tmp_path/'kjv.json').read_text()) + json.loads((tmp_path/'wt.json').read_text())
    assert sorted((r['task'], r['model']) for r in rows) == sorted((t, m) for t in ('kjv-word', 'kjv-byte', 'wt103') for m in LM_MODELS)
    for r in rows: assert r['steps'] == (2 if r['task'] == 'wt103' else 3) and math.isfinite(r['test_ppl']) and r['test_ppl'] > 1 and r['val_ppl'] > 1


def test_ddp_two_cpu_processes_resume_and_sample(data_root, tmp_path):
    root, fake = data_root
    common = ['--task', 'kjv-word', '--model', 'hybrid16', '--preset', 'smoke', '--accelerator', 'cpu', '--devices', '2', '--strategy', 'ddp',
              '--no-progress', '--no-tensorboard', '--data-root', str(root), '--out', str(tmp_path/'runs'), '--set', f'data.program={fake}']
    _cli(common + ['--results', str(tmp_path/'a.json')], tmp_path)
    (row,) = json.loads((tmp_path/'a.json').read_text())
    assert (row['world_size'], row['epochs'], row['steps']) == (2, 1, 3) and Path(row['last_ckpt']).exists()
    _cli(common + ['--resume', row['last_ckpt'], '--set', 'train.max_epochs=2', '--results', str(tmp_path/'b.json')], tmp_path)
    (row2,) = json.loads((tmp_path/'b.json').read_text())
    assert (row2['world_size'], row2['epochs'], row2['steps']) == (2, 2, 6) and math.isfinite(row2['test_ppl'])
    m = load_checkpoint(row2['last_ckpt'])
    assert m.corpus['level'] == 'word' and isinstance(m.model, LanguageModel)
    from sgconv.lm_train import main as lm_main                             # the `sample` command, in this process
    assert lm_main(['sample', '--ckpt', row2['last_ckpt'], '--prompt', 'I am with', '--max-new-tokens', '5', '--temperature', '0'])[0].startswith('I am with')
    with pytest.raises(SystemExit, match='prompt is empty'): lm_main(['sample', '--ckpt', row2['last_ckpt'], '--prompt', ''])


# ---------------------------------------------------------------- distillation

def test_fit_recovers_a_modal_kernel():
    from sgconv.distill import fit_modal, modal_kernel
    torch.manual_seed(0)
    lam = torch.polar(torch.rand(2, 3, dtype=torch.float64) * 0.3 + 0.6, torch.rand(2, 3, dtype=torch.float64) * 3)
    R = torch.randn(2, 3, dtype=torch.complex128)
    assert fit_modal(modal_kernel(R, lam, 120), 3, steps=0).rel_err.max() < 1e-8


def test_distilled_recurrence_equals_the_convolution_with_its_kernel():
    from sgconv.layer import SGConv
    from sgconv.distill import fit_modal, ModalConv
    torch.manual_seed(0)
    layer = SGConv(8, 128, kernel_dim=8).eval()
    mc = ModalConv.from_layer(layer, fit_modal(layer.kernel(128).detach()[0], 6, steps=20)).eval()
    x = torch.randn(2, 128, 8)
    with torch.no_grad():
        full, st, outs = mc(x), mc.default_state(2), []            # forward: FFT convolution with the modal kernel
        for t in range(128):
            y, st = mc.step(x[:, t], st); outs.append(y)
        assert torch.allclose(torch.stack(outs, 1), full, atol=1e-4)
        st = mc.state_from(x[:, :100], chunk=32)
        y, _ = mc.step(x[:, 100], st)
        assert torch.allclose(y, full[:, 100], atol=1e-4)


def test_distilled_model_generates_its_own_argmax():
    from sgconv.distill import distill_lm
    net = toy('hybrid16')
    d, errs = distill_lm(net, 4, steps=10)
    assert len(errs) == 1 and type(d.layers[2][0].mixer).__name__ == 'ModalConv'
    g = d.generate(torch.randint(0, 40, (2, 3)), 21, temperature=0)
    with torch.no_grad(): assert torch.equal(d(g[:, :-1])[0].argmax(-1)[:, 2:], g[:, 3:])
    with pytest.raises(ValueError, match='no SGConv'): distill_lm(toy('txl16'), 4)

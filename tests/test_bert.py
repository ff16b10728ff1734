"""BERT and SGConvBERT (issue 13): masking statistics, padding invariance, the GLUE readers and metrics on tiny files,
the tokenizer's round trip, the offline suite, and smoke pretraining and fine-tuning through the harness."""
import gzip
import json
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from sgconv.data.core import TaskInfo
from sgconv.data.kjv import _fake_bible, read_kjv, KJV_BOOK_SECTION
from sgconv.data.bert import (SPECIALS, CLS_ID, SEP_ID, MASK_ID, PAD_ID, IGNORE, mask_tokens, pack_blocks, train_wordpiece, load_tokenizer,
                              tokenizer_json, tokenizer_hash, encode_texts, parse_gcide, kjv_book_split, kjv_verse_split, MLMDataset,
                              mlm_collate, KJVSectionDataset, KJVNextDataset, KJVAcceptDataset, KJVDistanceDataset, SUITE_TASKS)
from sgconv.data.glue import (GLUE_TASKS, GLUE_DATASETS, read_glue, write_tiny_glue, task_metrics, accuracy, f1_score, matthews_corr,
                              pearson, spearman)
from sgconv.bert import BertConfig, BertEncoder, bench_bert, bench_bert_table
from sgconv.models import build_model, count_params

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def fake(tmp_path_factory):
    "A fake `bible` with 5 verses in each of 4 chapters of every book, and its verse cache"
    d = tmp_path_factory.mktemp('bible')
    prog = _fake_bible(d/'bin', books=range(66), n_chapters=4, n_verses=5)
    read_kjv(d/'data'/'kjv', program=str(prog))
    return d, prog


# ---- masking -------------------------------------------------------------------------------------------------------

def test_masking_statistics():
    g, V = torch.Generator().manual_seed(0), 20_000
    chosen = masked = kept = total = 0
    for _ in range(1500):
        s = torch.cat([torch.tensor([CLS_ID]), torch.randint(len(SPECIALS), V, (80,)), torch.tensor([SEP_ID, PAD_ID])])
        inp, tgt = mask_tokens(s, V, generator=g)
        sel = tgt != IGNORE
        assert not sel[0] and not sel[-2:].any()                             # specials and padding are never chosen
        assert (inp[~sel] == s[~sel]).all() and (tgt[sel] == s[sel]).all()
        chosen += int(sel.sum()); total += 80
        masked += int((inp[sel] == MASK_ID).sum()); kept += int((inp[sel] == s[sel]).sum())
    se = lambda p, n: 5 * math.sqrt(p * (1 - p) / n)
    assert abs(chosen / total - 0.15) < se(0.15, total)
    assert abs(masked / chosen - 0.8) < se(0.8, chosen)
    assert abs(kept / chosen - 0.1) < se(0.1, chosen)
    assert abs((chosen - masked - kept) / chosen - 0.1) < se(0.1, chosen)


def test_masking_expected_count_and_errors():
    g = torch.Generator().manual_seed(1)
    n = [int((mask_tokens(torch.tensor([2, 9, 9, 9, 9, 9, 3]), 30, generator=g)[1] != IGNORE).sum()) for _ in range(3000)]
    assert abs(np.mean(n) - 0.75) < 0.05 and set(n) == {0, 1}              # int(0.15 * 5 + u): 0.75 on average
    with pytest.raises(ValueError, match='1-D'): mask_tokens(torch.zeros(2, 2, dtype=torch.long), 10)
    with pytest.raises(ValueError, match='<= 1'): mask_tokens(torch.tensor([5, 6]), 10, mask_frac=0.9, random_frac=0.2)


def test_pack_blocks_and_collate():
    b = pack_blocks([[[5, 6], [7, 8, 9], [10]], [[11] * 9]], max_len=7)
    assert [x.tolist() for x in b] == [[2, 5, 6, 7, 8, 9, 3], [2, 10, 3], [2] + [11] * 5 + [3], [2] + [11] * 4 + [3]]
    x, lengths, y = mlm_collate([(torch.tensor([2, 5, 3]), torch.tensor([IGNORE, 5, IGNORE])), (torch.tensor([2, 3]), torch.tensor([IGNORE, IGNORE]))])
    assert x.tolist() == [[2, 5, 3], [2, 3, PAD_ID]] and y[1, 2] == IGNORE and lengths.tolist() == [3, 2]


# ---- the encoder ---------------------------------------------------------------------------------------------------

SMALL = dict(d_model=32, n_heads=4, ffn_mult=2, kernel_dim=4)


@pytest.mark.parametrize('pattern', ['{A}x2', '{C}x2', '{A,A,C}x2+{A,C,C}x2'])
def test_padding_does_not_leak(pattern):
    torch.manual_seed(0)
    info = TaskInfo('t', 60, 1, 2, 40)
    net = BertEncoder(info, BertConfig.from_options('bert', pattern=pattern, **SMALL)).eval()
    seqs = [torch.randint(5, 60, (n,)) for n in (6, 17)]
    with torch.no_grad():
        alone = [net.features(s[None])[0] for s in seqs]
        for L in (17, 40):
            xb = torch.randint(5, 60, (2, L))                                 # random tokens in the padding, not [PAD]
            for i, s in enumerate(seqs): xb[i, :len(s)] = s
            h = net.features(xb, torch.tensor([6, 17]))
            for i, s in enumerate(seqs): torch.testing.assert_close(h[i, :len(s)], alone[i], atol=1e-5, rtol=1e-5)
        assert (net.features(xb)[0, :6] - alone[0]).abs().max() > 1e-3      # without the lengths it does leak


def test_models_and_heads():
    info = TaskInfo('t', 50, 1, 3, 32)
    m = build_model(info, 'sgconvbert', **SMALL)
    assert ''.join(m.kinds) == 'AACAACACCACC' and m(torch.randint(0, 50, (2, 9))).shape == (2, 3)
    mlm = build_model(info, 'bert', head='mlm', **SMALL)
    assert mlm(torch.randint(0, 50, (2, 9))).shape == (2, 9, 50)
    assert mlm.mlm_logits.__func__ and mlm.embed.weight is not None
    fine = build_model(info, 'bert', **SMALL)
    assert fine.load_encoder(mlm.state_dict()) == ['mlm.0.bias', 'mlm.0.weight', 'mlm.2.bias', 'mlm.2.weight', 'mlm_bias']
    with pytest.raises(ValueError, match='l_max=32'): m(torch.zeros(1, 33, dtype=torch.long))
    with pytest.raises(ValueError, match="head='mlm'"): m.mlm_logits(torch.zeros(2, 32))
    with pytest.raises(ValueError, match='must divide'): BertConfig.from_options('bert', d_model=30, n_heads=4)
    with pytest.raises(ValueError, match="unknown option"): BertConfig.from_options('bert', n_layers=3)


def test_bench_runs_without_asserting_times():
    rows = bench_bert((32,), repeats=1, warmup=0, vocab=50, d_model=16, n_heads=2, ffn_mult=1, kernel_dim=4)
    assert {(r['name'], r['pass']) for r in rows} == {(m, p) for m in ('bert', 'sgconvbert') for p in ('fwd', 'fwd+bwd')}
    assert 'sgconvbert / bert' in bench_bert_table(rows)


def test_model_modules_import_without_lightning_or_tokenizers():
    code = ("import sys\nfor m in ('lightning', 'tokenizers', 'sklearn', 'scipy', 'fastcore'): sys.modules[m] = None\n"
            "import sgconv.bert, sgconv.data.bert, sgconv.data.glue\nprint('ok')")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, cwd=ROOT, env={'PYTHONPATH': str(ROOT), 'PATH': '/usr/bin:/bin'})
    assert out.stdout.strip() == 'ok', out.stderr[-2000:]


# ---- GLUE ----------------------------------------------------------------------------------------------------------

def test_metrics_against_reference():
    sk = pytest.importorskip('sklearn.metrics'); st = pytest.importorskip('scipy.stats')
    rng = np.random.default_rng(3)
    y, p = rng.integers(0, 2, 300), rng.integers(0, 2, 300)
    a, b = rng.normal(size=200), rng.integers(0, 4, 200)
    assert math.isclose(matthews_corr(p, y), sk.matthews_corrcoef(y, p), abs_tol=1e-12)
    assert math.isclose(f1_score(p, y), sk.f1_score(y, p), abs_tol=1e-12)
    assert math.isclose(pearson(a, b), st.pearsonr(a, b)[0], abs_tol=1e-12)
    assert math.isclose(spearman(a, b), st.spearmanr(a, b)[0], abs_tol=1e-12)
    assert accuracy([1, 2], [1, 1]) == 0.5 and matthews_corr([0, 0], [0, 1]) == 0.0


def test_glue_readers_on_tiny_files(tmp_path):
    root = write_tiny_glue(tmp_path/'glue')
    tok = train_wordpiece(['a gorgeous witty film', 'the cat sat on the mat', 'how do I learn', 'prices rose'] * 4, 80)
    for name, t in GLUE_TASKS.items():
        for split in ('train', 'val', 'test'):
            a, b, y, skipped = read_glue(root/t.folder/t.files[split], name)
            assert len(a) == len(y) > 0 and skipped == 0 and (b is None) == (len(t.text) == 1)
        ds = GLUE_DATASETS[name]('train', root=root, tokenizer=tok, max_len=12)
        x, target = ds[0]
        assert x[0] == CLS_ID and x[-1] == SEP_ID and len(x) <= 12 and int((x == SEP_ID).sum()) == len(t.text)
        assert ds.info.n_classes == (len(t.labels) if t.labels else 1) and ds.metrics == t.metrics
        assert isinstance(target, torch.Tensor) if t.labels is None else isinstance(target, int)
    assert read_glue(root/'MNLI'/'dev_matched.tsv', 'mnli')[2] == [1, 0, 2, 1]
    assert read_glue(root/'CoLA'/'train.tsv', 'cola')[2] == [1, 0, 1]
    assert read_glue(root/'STS-B'/'train.tsv', 'stsb')[2] == [5.0, 0.5, 3.8]
    assert len(GLUE_DATASETS['mnli']('test', root=root, tokenizer=tok, mismatched=True)) == 4
    with open(root/'QQP'/'train.tsv', 'a') as f: f.write('9\tonly three\tfields\n')
    assert read_glue(root/'QQP'/'train.tsv', 'qqp')[3] == 1
    (tmp_path/'bad.tsv').write_text('index\tquestion\tsentence\tlabel\n0\tq\ts\tmaybe\n')
    with pytest.raises(ValueError, match="line 2: unknown label 'maybe'"): read_glue(tmp_path/'bad.tsv', 'qnli')
    with pytest.raises(FileNotFoundError, match='download_glue_data'): read_glue(tmp_path/'none.tsv', 'qnli')
    with pytest.raises(ValueError, match='data.tokenizer='): GLUE_DATASETS['sst2']('train', root=root)


def test_task_metrics_scores_outputs():
    m = task_metrics(['mcc', 'acc'], np.array([[2., 1.], [0., 3.], [1., 0.], [0., 1.]]), [0, 1, 1, 1])
    assert m['acc'] == 0.75 and math.isclose(m['mcc'], matthews_corr([0, 1, 0, 1], [0, 1, 1, 1]))
    assert task_metrics(['pearson'], np.array([[1.], [2.], [3.]]), [1., 2., 3.])['pearson'] == pytest.approx(1.0)
    with pytest.raises(ValueError, match='unknown metric'): task_metrics(['bleu'], np.zeros(2), [0, 1])


# ---- tokenizer, corpus, suite ----------------------------------------------------------------------------------------

def test_tokenizer_round_trip(tmp_path):
    tok = train_wordpiece(['In the beginning God created the heaven and the earth.'] * 5, 60)
    assert [tok.token_to_id(s) for s in SPECIALS] == [0, 1, 2, 3, 4]
    (tmp_path/'tokenizer.json').write_text(tokenizer_json(tok))
    torch.save({'tokenizer': tokenizer_json(tok)}, tmp_path/'a.ckpt')
    text = 'the earth and the heaven'
    for spec in (tmp_path, tmp_path/'tokenizer.json', tmp_path/'a.ckpt', tokenizer_json(tok)):
        t2 = load_tokenizer(spec)
        assert t2.encode(text).ids == tok.encode(text).ids and tokenizer_hash(t2) == tokenizer_hash(tok)
    x = encode_texts(tok, ['the heaven and the earth'], ['god created the heaven'], max_len=7)[0]
    assert len(x) == 7 and x[0] == CLS_ID and int((x == SEP_ID).sum()) == 2
    with pytest.raises(FileNotFoundError, match='no tokenizer'): load_tokenizer(tmp_path/'none')


def test_gcide_parser():
    e = parse_gcide('Abjure \\Ab*jure"\\, v. i.\n   To renounce on oath. --Bp. Burnet.\n   [1913 Webster]\n\n'
                    'Ablation \\Ab*la"tion\\, n. [L. ablatio.]\n   Removal. --Jer. Taylor.\n      [1913 Webster]\n')
    assert e == [('Abjure', 'Abjure, v. i. To renounce on oath.'), ('Ablation', 'Ablation, n. Removal.')]


def test_held_out_books():
    split = kjv_book_split(0)
    assert Counter(split) == {0: 50, 1: 8, 2: 8}
    for c in (1, 2): assert sorted(KJV_BOOK_SECTION[b] for b in range(66) if split[b] == c) == list(range(8))


def test_mlm_dataset_and_suite(fake, tmp_path):
    d, prog = fake
    gfile = tmp_path/'g.dict.dz'
    gfile.write_bytes(gzip.compress(b'Abjure \\Ab*jure"\\, v. i.\n   To renounce on oath.\n   [1913 Webster]\n'))
    kw = dict(root=d/'data'/'kjv', program=str(prog), gcide_file=gfile, vocab_size=300, max_len=24)
    tr, va = MLMDataset('train', **kw), MLMDataset('val', **kw)
    assert int(tr.blocks.lengths.max()) <= 24 and tokenizer_hash(tr.tokenizer) == tokenizer_hash(va.tokenizer)
    assert torch.equal(va[2][0], va[2][0]) and torch.equal(va[2][1], va[2][1])   # fixed validation masks
    verses = read_kjv(d/'data'/'kjv')
    codes = kjv_verse_split(verses)
    opts = dict(root=d/'data'/'kjv', program=str(prog), tokenizer=tr.tokenizer, n_train=40, n_eval=16, max_len=40)
    for cls in (KJVSectionDataset, KJVNextDataset, KJVAcceptDataset, KJVDistanceDataset):
        sets = {s: cls(s, **opts) for s in ('train', 'val', 'test')}
        for s, code in (('train', 0), ('val', 1), ('test', 2)):
            assert {int(codes[i]) for i in sets[s].sources} == {code}          # every example from its split's books
        assert [e[:3] for e in cls('test', **opts).examples] == [e[:3] for e in sets['test'].examples]
        assert sets['train'].info.n_classes == SUITE_TASKS[cls.task][0]
    assert {int(codes[i]) for i in KJVSectionDataset('test', matched=True, **opts).sources} == {3}


# ---- smoke runs through the harness -----------------------------------------------------------------------------------

def test_smoke_pretrain_and_finetune(fake, tmp_path):
    from sgconv.train import run
    from sgconv.harness import load_checkpoint
    d, prog = fake
    common = dict(root=d/'data', out_dir=tmp_path/'runs', progress=False, loggers=('csv',))
    pre = run('bert-mlm', 'sgconvbert', 'smoke', {'data.program': str(prog)}, **common)
    assert pre['steps'] == 4 and math.isfinite(pre['test_ppl'])
    ck = pre['best_ckpt']
    assert (Path(ck).parent/'tokenizer.json').is_file()
    m = load_checkpoint(ck)
    assert tokenizer_hash(m.tokenizer_json) == tokenizer_hash(load_tokenizer(Path(ck).parent))
    over = {'data.program': str(prog), 'data.tokenizer': ck, 'module.init_from': ck}
    fine = run('kjv-section', 'sgconvbert', 'smoke', over, **common)
    assert {'test_acc', 'test_score', 'test_matched_acc', 'val_score'} <= set(fine)
    f = load_checkpoint(fine['best_ckpt'])
    assert f.hparams.init_from is None and tokenizer_hash(f.tokenizer_json) == tokenizer_hash(m.tokenizer_json)
    x = torch.tensor([[CLS_ID, 7, 8, SEP_ID]])
    with torch.no_grad(): torch.testing.assert_close(f(x), load_checkpoint(fine['best_ckpt'])(x))
    reg = run('kjv-distance', 'sgconvbert', 'smoke', over, **common)
    assert {'test_pearson', 'test_spearman'} <= set(reg)
    with pytest.raises(ValueError, match="checkpoint of model 'sgconvbert'"): run('kjv-next', 'bert', 'smoke', over, **common)
    with pytest.raises(ValueError, match="'d_model'"): run('kjv-next', 'sgconvbert', 'smoke', {**over, 'model.d_model': 32}, **common)

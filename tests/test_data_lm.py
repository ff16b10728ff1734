"Tests for sgconv.data.lm: WikiText-103 on tiny files in its format, the KJV language-model corpus (fake `bible`), and the ordered iterator."
import math
import shutil

import pytest
import torch

from sgconv.data.core import MissingDataError, TaskInfo
from sgconv.data.kjv import KJV_BOOKS, _fake_bible, read_kjv
from sgconv.data.lm import (EOS, KJV_LM_BOOKS, LM_SPLITS, WT103_ARCHIVE, WT103_FILES, LMCorpus, LMDataset, LMOrderedIterator,
                            _write_tiny_wikitext, kjv_lm_split, kjv_word_tokens, line_tokens, load_kjv_lm, load_wikitext103)

HAVE_BIBLE = shutil.which('bible') is not None


# ---------------------------------------------------------------- WikiText-103

def test_wikitext_tiny(tmp_path):
    lines = _write_tiny_wikitext(tmp_path)
    c = load_wikitext103(tmp_path, progress=False)
    assert [len(c.stream(s)) for s in LM_SPLITS] == [sum(len(l.split()) + 1 for l in lines[s]) for s in LM_SPLITS]
    assert int((c.train == c.vocab[EOS]).sum()) == len(lines['train'])               # <eos> at every line end, empty lines too
    assert c.vocab.decode(c.train[:3]) == ['<eos>', '=', 'Valkyria']
    assert c.vocab['<unk>'] == 1 and int((c.train == 1).sum()) == 1                   # the data's <unk> is the reserved one
    assert 'Robert' not in c.vocab and c.vocab.decode(c.val[1:4]) == ['=', '<unk>', '=']   # vocabulary from train only
    assert c.task_info(32) == TaskInfo('wt103', len(c.vocab), 1, len(c.vocab), 32, False)
    c2 = load_wikitext103(tmp_path, progress=False)                                    # cached
    assert torch.equal(c2.test, c.test) and c2.vocab == c.vocab and c2.test.dtype == torch.long


def test_wikitext_missing_file(tmp_path):
    _write_tiny_wikitext(tmp_path)
    (tmp_path/WT103_FILES['test']).unlink()
    with pytest.raises(MissingDataError) as e: load_wikitext103(tmp_path, progress=False)
    assert 'wiki.test.tokens' in str(e.value) and WT103_ARCHIVE in str(e.value)
    with pytest.raises(MissingDataError, match='wiki.train.tokens'): load_wikitext103(tmp_path/'empty', progress=False)


def test_wikitext_unzipped_folder(tmp_path):
    (tmp_path/'wikitext-103').mkdir()
    _write_tiny_wikitext(tmp_path/'wikitext-103')
    assert len(load_wikitext103(tmp_path, cache=False, progress=False).train) > 0


def test_line_tokens():
    assert line_tokens(' \n') == ['<eos>'] and line_tokens(' a  b \n') == ['a', 'b', '<eos>']


# ---------------------------------------------------------------- KJV corpus

def test_kjv_tokens_and_split():
    assert kjv_word_tokens("the king's sons' God-ward, LORD.") == ['the', 'king', "'s", 'sons', "'", 'God-ward', ',', 'LORD', '.']
    assert kjv_lm_split(KJV_BOOKS.index('Mark')) == 'test' and kjv_lm_split(KJV_BOOKS.index('Proverbs')) == 'val'
    assert not set(KJV_LM_BOOKS['val']) & set(KJV_LM_BOOKS['test'])


def test_kjv_lm_fake(tmp_path):
    prog = _fake_bible(tmp_path/'bin', books=(0, 5, 6, 40))                          # Genesis, Joshua (val), Judges, Mark (test)
    word = load_kjv_lm(tmp_path/'kjv', program=str(prog), min_freq=1)
    vs = read_kjv(tmp_path/'kjv')
    n_eos = {s: sum(kjv_lm_split(v.book) == s for v in vs) for s in LM_SPLITS}
    assert {s: int((word.stream(s) == 2).sum()) for s in LM_SPLITS} == n_eos == {'train': 18, 'val': 18, 'test': 36}
    first_val = next(v for v in vs if kjv_lm_split(v.book) == 'val')
    assert word.vocab.decode(word.val[:4]) == kjv_word_tokens(first_val.text)[:4]
    byte = load_kjv_lm(tmp_path/'kjv', level='byte')
    assert byte.n_tokens == 259 and ''.join(byte.vocab.decode(byte.val[:10])) == first_val.text[:10]
    assert len(byte.train) == sum(len(v.text) + 1 for v in vs if kjv_lm_split(v.book) == 'train')
    with pytest.raises(ValueError, match='level must be one of'): load_kjv_lm(tmp_path/'kjv', level='char')
    with pytest.raises(MissingDataError, match='bible-kjv bible-kjv-text'): load_kjv_lm(tmp_path/'none', program='no-such-bible-program')


# ---------------------------------------------------------------- the ordered iterator

def test_iterator_shift_and_exactly_once():
    N, B, L = 1003, 4, 16
    s = torch.randperm(N, generator=torch.Generator().manual_seed(1))
    it = LMOrderedIterator(s, B, L)
    segs = list(it)
    n = (N - 1) // B
    assert len(it) == len(segs) == math.ceil(n / L)
    assert all(x.shape == y.shape == (B, min(L, n - k*L)) for k, (x, y) in enumerate(segs))
    for (_, y1), (x2, _) in zip(segs, segs[1:]): assert torch.equal(x2[:, 0], y1[:, -1])   # rows continue across segments
    x, y = torch.cat([a for a, _ in segs], 1), torch.cat([b for _, b in segs], 1)
    assert torch.equal(x[:, 1:], y[:, :-1])
    pos = {int(v): i for i, v in enumerate(s)}                                        # values are distinct: targets as positions
    targets = sorted(pos[int(v)] for v in y.flatten())
    assert targets == list(range(1, B*n + 1))                                        # once each; not 0, not the (N-1) % B tail
    assert N - 1 - B*n == (N - 1) % B


def test_iterator_ranks_disjoint():
    s = torch.arange(5000)
    full = list(LMOrderedIterator(s, 6, 50))
    parts = [list(LMOrderedIterator(s, 6, 50, world_size=3, rank=r)) for r in range(3)]
    assert all(len(p) == len(full) for p in parts)
    for k in range(len(full)): assert torch.equal(torch.cat([p[k][1] for p in parts]), full[k][1])
    sets = [set(torch.cat([y.flatten() for _, y in p]).tolist()) for p in parts]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    with pytest.raises(ValueError, match='not divisible'): LMOrderedIterator(s, 6, 50, world_size=4, rank=0)
    with pytest.raises(ValueError, match='rank must be in'): LMOrderedIterator(s, 6, 50, world_size=3, rank=3)


def test_iterator_dataloader_workers_keep_order():
    s = torch.arange(2000)
    full = list(LMOrderedIterator(s, 4, 32))
    got = list(torch.utils.data.DataLoader(LMOrderedIterator(s, 4, 32), batch_size=None, num_workers=2))
    assert len(got) == len(full) and all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(got, full))


def test_iterator_errors():
    with pytest.raises(ValueError, match='too short'): LMOrderedIterator(torch.arange(4), 4, 2)
    with pytest.raises(ValueError, match='1-D'): LMOrderedIterator(torch.zeros(3, 3), 1, 2)
    with pytest.raises(ValueError, match='tgt_len'): LMOrderedIterator(torch.arange(10), 1, 0)
    with pytest.raises(IndexError, match='out of range'): LMOrderedIterator(torch.arange(10), 1, 4).segment(3)


def test_lm_dataset(tmp_path):
    prog = _fake_bible(tmp_path/'bin', books=(0, 5, 6, 40))
    read_kjv(tmp_path/'kjv', program=str(prog))
    tr = LMDataset('train', root=tmp_path/'kjv', batch_size=2, tgt_len=8, eval_tgt_len=16, min_freq=1)
    va = LMDataset('valid', root=tmp_path/'kjv', batch_size=2, tgt_len=8, eval_batch_size=1, eval_tgt_len=16, min_freq=1)
    assert tr.info.l_max == 16 and tr.info.n_tokens == len(tr.vocab) and va.split == 'val'
    x, y = next(iter(va))
    assert x.shape == (1, 16) and torch.equal(x[:, 1:], y[:, :-1])
    wt = tmp_path/'wt'; wt.mkdir(); _write_tiny_wikitext(wt)
    assert LMDataset('test', root=wt, corpus='wt103', batch_size=1, tgt_len=4, progress=False).info.name == 'wt103'
    with pytest.raises(ValueError, match='corpus must be one of'): LMDataset('train', root=tmp_path/'kjv', corpus='ptb')


def test_corpus_checks():
    with pytest.raises(ValueError, match='need streams'): LMCorpus('x', None, {'train': torch.tensor([1])})


# ---------------------------------------------------------------- the real text

@pytest.mark.skipif(not HAVE_BIBLE, reason='needs the Debian packages bible-kjv bible-kjv-text')
def test_real_kjv_lm(tmp_path):
    c = load_kjv_lm(tmp_path)
    n = {s: len(c.stream(s)) for s in LM_SPLITS}
    tot = sum(n.values())
    assert 0.88 < n['train']/tot < 0.92 and all(0.045 < n[s]/tot < 0.055 for s in ('val', 'test'))
    assert sum(int((c.stream(s) == 2).sum()) for s in LM_SPLITS) == 31_102

"Tests for sgconv.data.kjv: the verse reader (with a fake `bible` program), the chapter split, the passages, and the Text and Retrieval datasets."
import shutil

import numpy as np
import pytest
import torch

from sgconv.data.core import MissingDataError, TaskInfo, pad_collate
from sgconv.data.kjv import (KJV_BOOK_SECTION, KJV_BOOKS, KJV_CACHE, KJV_SECTIONS, KJVRetrievalDataset, KJVTextDataset, Verse,
                             _fake_bible, chapter_units, kjv_byte_vocab, kjv_pairs, kjv_passages, parse_bible_output,
                             passage_text, read_kjv, split_blocks, split_units, tile_passages)

HAVE_BIBLE = shutil.which('bible') is not None
SMALL = dict(unit_bytes=200, min_bytes=64)   # fake chapters have about 600 bytes: one unit each


@pytest.fixture
def fake_root(tmp_path):
    "A data folder whose verse cache comes from a fake `bible`: 10 books (every section) x 10 chapters x 6 verses."
    prog = _fake_bible(tmp_path/'bin', n_chapters=10)
    read_kjv(tmp_path/'kjv', program=str(prog))
    return tmp_path/'kjv'


# ---------------------------------------------------------------- reader

def test_books_and_sections():
    assert len(KJV_BOOKS) == 66 and len(KJV_SECTIONS) == 8
    assert [sum(s == k for s in KJV_BOOK_SECTION) for k in range(8)] == [5, 12, 5, 5, 12, 5, 13, 9]
    assert KJV_SECTIONS[KJV_BOOK_SECTION[KJV_BOOKS.index('Lamentations')]] == 'Major Prophets'


def test_parse_bible_output():
    vs = parse_bible_output("Ge1:1 In the  beginning.\n\nRev22:21 The grace  \n")
    assert vs == [Verse(0, 1, 1, 'In the beginning.'), Verse(65, 22, 21, 'The grace')]
    with pytest.raises(ValueError, match='is not'): parse_bible_output('Genesis 1:1 In the beginning')
    with pytest.raises(ValueError, match='canonical order'): parse_bible_output('Ge1:2 b\nGe1:1 a')
    with pytest.raises(ValueError, match='no verses'): parse_bible_output('\n\n')


def test_read_kjv_fake_program_and_cache(tmp_path):
    prog = _fake_bible(tmp_path/'bin')
    vs = read_kjv(tmp_path/'data', program=str(prog))
    assert len(vs) == 10*3*6 and (tmp_path/'data'/KJV_CACHE).is_file()
    prog.unlink()
    assert read_kjv(tmp_path/'data', program=str(prog)) == vs                          # the cache is enough
    with pytest.raises(MissingDataError, match='bible-kjv bible-kjv-text'): read_kjv(tmp_path/'data', program=str(prog), refresh=True)


def test_read_kjv_missing_and_failing_program(tmp_path):
    with pytest.raises(MissingDataError, match='apt-get install -y bible-kjv bible-kjv-text'):
        read_kjv(tmp_path/'none', program='no-such-bible-program')
    bad = tmp_path/'bad'; bad.write_text('#!/bin/sh\necho "no data file" >&2\nexit 1\n'); bad.chmod(0o755)
    with pytest.raises(MissingDataError, match='bible.data'): read_kjv(tmp_path/'x', program=str(bad))
    with pytest.raises(MissingDataError, match='bible-kjv'): KJVTextDataset('train', root=tmp_path/'y', program='no-such-bible-program')


# ---------------------------------------------------------------- split and passages

def test_units_split_blocks(fake_root):
    vs = read_kjv(fake_root)
    units = chapter_units(vs, 200)
    assert len(units) == 10*10 and sum(u.stop - u.start for u in units) == len(vs)
    assert len(chapter_units(vs, 10**6)) == 10                                          # whole books
    nb = [sum(len(v.text) + 1 for v in vs[u.start:u.stop]) for u in units]
    us = split_units(units, nb, (0.8, 0.1, 0.1), seed=0)
    assert (us == split_units(units, nb, (0.8, 0.1, 0.1), seed=0)).all()
    assert [int((us == k).sum()) for k in range(3)] == [80, 10, 10]                     # one val and one test chapter per book
    covered = sorted((a, z) for k in range(3) for _, a, z in split_blocks(units, us, k))
    assert covered[0][0] == 0 and covered[-1][1] == len(vs) and all(z <= a for (_, z), (a, _) in zip(covered, covered[1:]))
    with pytest.raises(ValueError, match='summing to 1'): split_units(units, nb, (0.5, 0.1, 0.1))


def test_tile_passages_lengths_and_order():
    vb = np.array([50, 60, 70, 80, 90, 600, 40, 30])
    ps = tile_passages(vb, [(0, 0, 8)], 100, 200, np.random.default_rng(0))
    for p in ps:
        n = int(vb[p.start:p.stop].sum()) + p.stop - p.start - 1
        assert (100 <= n <= 200) or (p.stop - p.start == 1 and vb[p.start] > 200)     # in range, or one long verse alone
    assert all(a.stop <= b.start for a, b in zip(ps, ps[1:]))
    with pytest.raises(ValueError, match='min_bytes <= max_bytes'): tile_passages(vb, [(0, 0, 8)], 300, 200, np.random.default_rng(0))


def test_passages_never_cross_splits(fake_root):
    vs = read_kjv(fake_root)
    parts = {s: kjv_passages(vs, s, min_bytes=64, max_bytes=255, unit_bytes=200, tilings=2 if s == 'train' else 1) for s in ('train', 'val', 'test')}
    chapters = {s: {(vs[i].book, vs[i].chapter) for p in ps for i in range(p.start, p.stop)} for s, ps in parts.items()}
    assert not (chapters['train'] & chapters['val']) and not (chapters['train'] & chapters['test']) and not (chapters['val'] & chapters['test'])
    assert all(len(parts[s]) > 0 for s in parts)
    with pytest.raises(ValueError, match='split must be one of'): kjv_passages(vs, 'dev')


# ---------------------------------------------------------------- datasets

def test_text_dataset(fake_root):
    ds = {s: KJVTextDataset(s, root=fake_root, l_max=256, **SMALL) for s in ('train', 'val', 'test')}
    tr = ds['train']
    assert tr.info == TaskInfo('kjv_text', 259, 1, 8, 256, False)
    x, y = tr[0]
    assert x.dtype == torch.long and len(x) <= 256 and int(x[-1]) == 2
    assert ''.join(tr.vocab.decode(x[:-1])) == tr.text(0) and y == KJV_BOOK_SECTION[tr.passages[0].book]
    assert set(tr.labels.tolist()) == set(range(8))                                     # every section in train
    again = KJVTextDataset('val', root=fake_root, l_max=256, **SMALL)                   # from the cache
    assert torch.equal(again.tokens.flat, ds['val'].tokens.flat) and again.passages == ds['val'].passages
    assert len(KJVTextDataset('train', root=fake_root, preset='tiny', unit_bytes=200, n_train=5)) == 5
    xb, lengths, yb = pad_collate([tr[i] for i in range(3)])
    assert xb.shape == (3, int(lengths.max()))
    with pytest.raises(ValueError, match='split must be one of'): KJVTextDataset('dev', root=fake_root)
    with pytest.raises(ValueError, match='preset must be one of'): KJVTextDataset('train', root=fake_root, preset='huge')


def test_retrieval_dataset(fake_root):
    ds = KJVRetrievalDataset('train', root=fake_root, l_max=256, n_train=40, **SMALL)
    assert ds.info == TaskInfo('kjv_retrieval', 259, 1, 2, 256, True) and len(ds) == 40
    assert int(ds.labels.sum()) == 20                                                  # balanced
    (x1, x2), y = ds[0]
    a, b = ds.passages[int(ds.a[0])], ds.passages[int(ds.b[0])]
    assert y == int(a.book == b.book) and ''.join(ds.vocab.decode(x1[:-1])) == ds.texts(0)[0]
    same = [(ds.passages[int(i)].book == ds.passages[int(j)].book) for i, j in zip(ds.a, ds.b)]
    assert same == [bool(t) for t in ds.labels.tolist()]
    (b1, b2), (l1, l2), yb = pad_collate([ds[i] for i in range(4)])
    assert b1.shape == b2.shape
    val = KJVRetrievalDataset('val', root=fake_root, l_max=256, n_eval=10, **SMALL)
    assert len(val) == 10 and int(val.labels.sum()) == 5
    with pytest.raises(ValueError, match='hard_negatives'): KJVRetrievalDataset('val', root=fake_root, hard_negatives=1.5, **SMALL)


def test_pairs_need_two_books(fake_root):
    vs = read_kjv(fake_root)
    ps = kjv_passages(vs, 'train', min_bytes=64, max_bytes=255, unit_bytes=200)
    one_book = [p for p in ps if p.book == ps[0].book]
    with pytest.raises(ValueError, match='need two books'): kjv_pairs(vs, one_book, 4, np.random.default_rng(0))


def test_byte_vocab():
    v = kjv_byte_vocab()
    assert len(v) == 259 and v['<eos>'] == 2 and v[chr(65)] == 65 + 3


# ---------------------------------------------------------------- the real text (needs Debian's bible-kjv)

@pytest.mark.skipif(not HAVE_BIBLE, reason='needs the Debian packages bible-kjv bible-kjv-text')
def test_real_kjv(tmp_path):
    vs = read_kjv(tmp_path)
    assert len(vs) == 31_102 and len({(v.book, v.chapter) for v in vs}) == 1_189
    assert vs[0] == Verse(0, 1, 1, 'In the beginning God created the heaven and the earth.')
    tr = KJVTextDataset('train', root=tmp_path, preset='tiny')
    assert len(tr) == 48 and all(len(x) <= 256 for x, _ in tr)
    ps = kjv_passages(vs, 'val')
    assert all(1000 <= len(passage_text(vs, p)) <= 4095 for p in ps) and len(ps) > 100
    assert len(KJVRetrievalDataset('test', root=tmp_path, preset='tiny')) == 8

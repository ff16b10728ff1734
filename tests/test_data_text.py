"Tests for sgconv.data.core, sgconv.data.listops and sgconv.data.text (the text-like LRA tasks)."
import numpy as np
import pytest
import torch

from sgconv.data.core import (MissingDataError, Ragged, TaskInfo, Vocab, data_dir, pad_collate, seeded_split)
from sgconv.data.listops import (LISTOPS_VOCAB, ListOpsDataset, generate_listops, listops_eval, listops_stats,
                                 listops_tokenize, read_listops_tsv, tree_to_str, tree_value, write_listops_tsv)
from sgconv.data.text import (AAN_FILES, IMDB_ARCHIVE, AANDataset, IMDBDataset, TextEncoder, read_aan_tsv, read_imdb,
                              _tiny_aan, _tiny_imdb)

# ---------------------------------------------------------------- core

def test_data_dir_env(tmp_path, monkeypatch):
    monkeypatch.setenv('SGCONV_DATA', str(tmp_path/'root'))
    assert data_dir() == tmp_path/'root'
    assert data_dir('listops') == tmp_path/'root'/'listops' and (tmp_path/'root'/'listops').is_dir()

def test_missing_data_error():
    e = MissingDataError('/x/y/file.tsv', source='https://example.org/archive.gz', hint='unpack it')
    assert isinstance(e, FileNotFoundError)
    for part in ('file.tsv', '/x/y', 'https://example.org/archive.gz', 'unpack it'): assert part in str(e)

def test_pad_collate_tokens_floats_pairs():
    x, lengths, y = pad_collate([(torch.tensor([5, 6, 7]), 1), (torch.tensor([8]), 0)])
    assert torch.equal(x, torch.tensor([[5, 6, 7], [8, 0, 0]])) and torch.equal(lengths, torch.tensor([3, 1]))
    assert y.dtype == torch.long and torch.equal(y, torch.tensor([1, 0]))
    x, lengths, y = pad_collate([(torch.ones(4, 2), 3), (torch.ones(2, 2), 1)])
    assert x.shape == (2, 4, 2) and x.dtype == torch.float32 and x[1, 2:].abs().sum() == 0
    (x1, x2), (l1, l2), y = pad_collate([((torch.tensor([1, 2]), torch.tensor([3, 4, 5])), 1),
                                          ((torch.tensor([7]), torch.tensor([8])), 0)])
    assert x1.shape == x2.shape == (2, 3)
    assert torch.equal(l1, torch.tensor([2, 1])) and torch.equal(l2, torch.tensor([3, 1]))
    with pytest.raises(ValueError, match='empty'): pad_collate([])
    with pytest.raises(ValueError, match='trailing shape'): pad_collate([(torch.ones(3, 2), 0), (torch.ones(3, 4), 1)])

def test_vocab(tmp_path):
    v = Vocab.build(['hello', 'world'], specials=['<eos>'])
    assert v.itos[:5] == ['<pad>', '<unk>', '<eos>', 'l', 'o'] and v.pad_id == 0 and v.unk_id == 1
    assert v['?'] == v.unk_id and v.decode(v.encode('hold')) == list('hold')
    assert Vocab.build(['ba', 'ab']) == Vocab.build(['ab', 'ba'])
    v.save(tmp_path/'v.json')
    assert Vocab.load(tmp_path/'v.json') == v
    with pytest.raises(ValueError, match='min_freq'): Vocab.build(['a'], min_freq=0)

def test_task_info_and_split():
    info = TaskInfo('t', None, 3, 2, 100)
    assert info.pairs is False and info.asdict()['d_input'] == 3
    a, b = seeded_split(10, [0.7, 0.3], seed=4)
    assert (len(a), len(b)) == (7, 3) and sorted(a + b) == list(range(10))
    assert seeded_split(10, [0.7, 0.3], seed=4) == [a, b]
    with pytest.raises(ValueError, match='sum to 1'): seeded_split(10, [0.5])

def test_ragged(tmp_path):
    r = Ragged.from_seqs([[1, 2, 3], [], [300]])
    assert len(r) == 3 and r.flat.dtype == torch.int16 and torch.equal(r[2], torch.tensor([300]))
    assert r[1].numel() == 0 and torch.equal(r.lengths, torch.tensor([3, 0, 1]))
    r.save(tmp_path/'r.pt'); r2 = Ragged.load(tmp_path/'r.pt')
    assert torch.equal(r2.flat, r.flat) and torch.equal(r2.offsets, r.offsets)

# ---------------------------------------------------------------- ListOps

HAND = {'[MAX 2 9 [MIN 4 7 ] 0 ]': 9, '[SM 5 6 7 ]': 8, '[MED 1 2 3 4 ]': 2, '[MED 3 [MIN 9 1 ] 5 ]': 3,
        '[MIN [MAX 1 2 ] [SM 9 9 ] ]': 2, '( ( ( [MAX 2 ) 3 ) ] )': 3}

def test_listops_evaluator_hand_examples():
    for e, v in HAND.items(): assert listops_eval(e) == v
    assert tree_to_str(('[MAX', [2, 3])) == '( ( ( [MAX 2 ) 3 ) ] )'
    assert tree_value(('[MED', [1, 2, 3, 4])) == 2
    for bad in ('[MAX 1 2', '[MAX 1 ] ]', '[FIRST 1 2 ]', '1 2'):
        with pytest.raises(ValueError): listops_eval(bad)

def test_listops_generator_properties():
    rows = generate_listops(200, seed=3, min_len=20, max_len=150, max_depth=5, max_args=4)
    assert len({s for s, _ in rows}) == 200
    for s, y in rows:
        assert listops_eval(s) == y
        st = listops_stats(s)
        assert 20 < st['length'] < 150 and st['depth'] <= 5 and 2 <= st['max_args'] <= 4
    assert generate_listops(30, seed=3, min_len=20, max_len=150, max_depth=5, max_args=4) == rows[:30]
    assert generate_listops(30, seed=4, min_len=20, max_len=150) != generate_listops(30, seed=3, min_len=20, max_len=150)

def test_listops_lra_defaults_small():
    rows = generate_listops(40, seed=0)
    for s, y in rows:
        st = listops_stats(s)
        assert 500 < st['length'] < 2000 and st['depth'] <= 10 and st['max_args'] <= 10
        assert listops_eval(s) == y

def test_listops_tsv_roundtrip(tmp_path):
    rows = generate_listops(20, seed=1, min_len=10, max_len=60)
    write_listops_tsv(rows, tmp_path/'basic_train.tsv')
    assert (tmp_path/'basic_train.tsv').read_text().startswith('Source\tTarget')
    assert read_listops_tsv(tmp_path/'basic_train.tsv') == rows

def test_listops_dataset_generated(tmp_path):
    kw = dict(root=tmp_path, n_train=30, n_val=5, n_test=5, seed=0, min_len=20, max_len=100, progress=False)
    ds = ListOpsDataset('train', **kw)
    assert len(ds) == 30 and len(ListOpsDataset('test', **kw)) == 5
    assert ds.info == TaskInfo('listops', 18, 1, 10, 2048, False)
    rows = read_listops_tsv(ds.path)
    for i in range(len(ds)):
        x, y = ds[i]
        assert x[-1] == LISTOPS_VOCAB['<eos>'] and LISTOPS_VOCAB.decode(x[:-1]) == listops_tokenize(rows[i][0])
        assert listops_eval(rows[i][0]) == y
    again = ListOpsDataset('train', **kw)
    assert torch.equal(again.tokens.flat, ds.tokens.flat) and torch.equal(again.labels, ds.labels)

def test_listops_dataset_official_and_errors(tmp_path):
    for sp in ('train', 'val', 'test'): write_listops_tsv([('( ( ( [SM 9 ) 8 ) ] )', 7)], tmp_path/f'basic_{sp}.tsv')
    ds = ListOpsDataset('test', root=tmp_path, progress=False)
    assert ds.path == tmp_path/'basic_test.tsv'
    x, y = ds[0]
    assert y == 7 and LISTOPS_VOCAB.decode(x) == ['[SM', '9', '8', ']', '<eos>']
    assert len(ListOpsDataset('test', root=tmp_path, l_max=2, progress=False)[0][0]) == 2
    with pytest.raises(MissingDataError, match='basic_val.tsv'): ListOpsDataset('val', root=tmp_path/'none', source='official')
    with pytest.raises(ValueError, match='split'): ListOpsDataset('dev', root=tmp_path)

# ---------------------------------------------------------------- IMDB and AAN

def test_text_encoder_levels():
    v = Vocab.build(['abc'], specials=['<eos>'])
    assert TextEncoder(v, l_max=3, append_eos=True)('abca').tolist() == [v['a'], v['b'], v['<eos>']]
    assert TextEncoder(v)('az').tolist() == [v['a'], v.unk_id]
    assert len(TextEncoder(v, level='byte')('é')) == 2

def test_imdb_tarball_and_folder(tmp_path):
    (tmp_path/'tar').mkdir(); (tmp_path/'dir').mkdir()
    _tiny_imdb(tmp_path/'tar'); _tiny_imdb(tmp_path/'dir', extract=True)
    data = read_imdb(tmp_path/'tar')
    assert data == read_imdb(tmp_path/'dir')
    assert data['train'][1] == [0, 0, 0, 1, 1, 1] and len(data['test'][0]) == 4
    ds = IMDBDataset('train', root=tmp_path/'tar', min_freq=1, progress=False)
    assert len(ds) == 6 and ds.info == TaskInfo('imdb', len(ds.vocab), 1, 2, 4096, False)
    for i, (text, label) in enumerate(zip(*data['train'])):
        x, y = ds[i]
        assert ''.join(ds.vocab.decode(x[:-1])) == text and y == label
    dd = IMDBDataset('train', root=tmp_path/'dir', min_freq=1, progress=False)
    assert torch.equal(dd.tokens.flat, ds.tokens.flat)
    short = IMDBDataset('test', root=tmp_path/'tar', l_max=10, min_freq=1, progress=False)
    assert len(short) == 4 and max(len(x) for x, _ in short) == 10
    assert torch.equal(IMDBDataset('val', root=tmp_path/'tar', min_freq=1, progress=False).labels, torch.tensor([0, 0, 1, 1]))

def test_imdb_missing(tmp_path):
    with pytest.raises(MissingDataError, match=IMDB_ARCHIVE) as e: IMDBDataset('train', root=tmp_path, progress=False)
    assert str(tmp_path) in str(e.value) and 'stanford' in str(e.value)

def test_aan(tmp_path):
    _tiny_aan(tmp_path)
    rows = list(read_aan_tsv(tmp_path/AAN_FILES['train']))
    assert len(rows) == 6 and rows[1][0] == 1 and rows[0][1:3] == ('P0', 'Q0')
    ds = AANDataset('train', root=tmp_path, l_max=32, progress=False)
    assert ds.info == TaskInfo('aan', len(ds.vocab), 1, 2, 32, True)
    for i, r in enumerate(rows):
        (x1, x2), y = ds[i]
        assert y == r[0] and len(x1) <= 32 and len(x2) <= 32
        assert ''.join(ds.vocab.decode(x1[:-1])) == r[3][:31] and ''.join(ds.vocab.decode(x2[:-1])) == r[4][:31]
    assert len(AANDataset('val', root=tmp_path, l_max=32, progress=False)) == 2
    (b1, b2), (l1, l2), yb = pad_collate([ds[i] for i in range(3)])
    assert b1.shape == b2.shape and torch.equal(yb, torch.tensor([0, 1, 0]))

def test_aan_missing(tmp_path):
    with pytest.raises(MissingDataError, match='new_aan_pairs.train.tsv') as e: AANDataset('test', root=tmp_path, progress=False)
    assert 'lra_release.gz' in str(e.value)
    (tmp_path/'bad.tsv').write_text('1\ta\tb\n')
    with pytest.raises(ValueError, match='expected 5'): list(read_aan_tsv(tmp_path/'bad.tsv'))

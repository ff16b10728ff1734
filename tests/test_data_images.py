"Tests for the image-like LRA data: Pathfinder (sgconv.data.pathfinder) and sequential images (sgconv.data.images)."
import numpy as np
import pytest
import torch
from PIL import Image

from sgconv.data.core import MissingDataError, TaskInfo
from sgconv.data.pathfinder import (PathfinderConfig, PathfinderDataset, check_geometry, find_lra_pathfinder,
                                    generate_pathfinder, lra_pathfinder_index, markers_connected, pathfinder_config,
                                    read_lra_metadata, render_pathfinder, sample_pathfinder)
from sgconv.data.images import (CIFAR_CLASSES, SeqImageDataset, load_cifar10_gray, load_digits_32, luma,
                                write_fake_cifar10)


# ---------------------------------------------------------------- Pathfinder generator

def test_presets_and_errors():
    assert pathfinder_config(32, 'hard') == PathfinderConfig()
    assert pathfinder_config(64, 'curv_contour_length_9').contour_length == 9
    assert pathfinder_config(128, 'easy').distractor_length == 2
    with pytest.raises(ValueError, match='no Pathfinder preset'): pathfinder_config(40)
    with pytest.raises(ValueError, match='unknown Pathfinder difficulty'): pathfinder_config(32, 'medium-rare')
    with pytest.raises(TypeError, match='unknown setting'): pathfinder_config(32, colour=1)
    with pytest.raises(ValueError, match='max_turn'): PathfinderConfig(max_turn=0)
    with pytest.raises(ValueError, match='n must be'): generate_pathfinder(-3)


def test_generate_deterministic_balanced_range():
    a, ya = generate_pathfinder(30, 32, seed=7)
    b, yb = generate_pathfinder(30, 32, seed=7)
    c, _ = generate_pathfinder(30, 32, seed=8)
    assert np.array_equal(a, b) and np.array_equal(ya, yb) and not np.array_equal(a, c)
    assert a.shape == (30, 32, 32) and a.dtype == np.uint8 and ya.dtype == np.int64
    assert ya.sum() == 15 and set(ya.tolist()) == {0, 1}
    assert a.max() == 255 and a.min() == 0
    assert (a > 0).mean() < 0.5  # mostly background


def test_parallel_matches_serial():
    assert np.array_equal(generate_pathfinder(6, 32, seed=1, n_jobs=2)[0], generate_pathfinder(6, 32, seed=1)[0])


@pytest.mark.parametrize('res,n', [(32, 24), (64, 6)])
def test_labels_from_bookkeeping_and_pixels(res, n):
    cfg = pathfinder_config(res, 'hard')
    imgs, labels, metas = generate_pathfinder(n, res, seed=3, return_meta=True)
    for img, y, m in zip(imgs, labels, metas):
        check_geometry(m, cfg)  # dots on path ends of the marked paths, step, turns, clearance
        i, j = m['marked']
        assert y == m['label'] == int(i == j)
        assert markers_connected(m, cfg) == bool(y)  # flood fill on a gap-free drawing agrees
        assert np.array_equal(img, render_pathfinder(m, cfg))
        for x, yy in np.round(m['markers']).astype(int): assert img[yy, x] == 255


def test_path_x_shapes():
    imgs, labels, metas = generate_pathfinder(2, 128, seed=0, return_meta=True)
    assert imgs.shape == (2, 128, 128) and labels.sum() == 1
    for m in metas: check_geometry(m, pathfinder_config(128))


def test_sample_errors():
    with pytest.raises(ValueError, match='label must be 0 or 1'): sample_pathfinder(np.random.default_rng(0), PathfinderConfig(), 3)


# ---------------------------------------------------------------- Pathfinder dataset

def test_dataset_generated(tmp_path):
    kw = dict(root=tmp_path, n=30, seed=0, progress=False)
    ds = PathfinderDataset('train', **kw)
    assert [len(PathfinderDataset(s, **kw)) for s in ('train', 'val', 'test')] == [24, 3, 3]
    x, y = ds[0]
    assert x.shape == (1024, 1) and x.dtype == torch.float32 and y in (0, 1)
    assert -1 <= float(x.min()) and float(x.max()) <= 1
    xt, yt = PathfinderDataset('train', tokens=True, **kw)[0]
    assert xt.shape == (1024,) and xt.dtype == torch.long and yt == y
    assert torch.equal((xt.float()/255 - 0.5)/0.5, x[:, 0])
    assert ds.info == TaskInfo('pathfinder32', None, 1, 2, 1024, False)
    assert PathfinderDataset('train', tokens=True, **kw).info.n_tokens == 256
    stamp = ds.path.stat().st_mtime_ns
    assert PathfinderDataset('test', **kw).path.stat().st_mtime_ns == stamp  # cache reused
    idx = np.concatenate([PathfinderDataset(s, **kw).idx for s in ('train', 'val', 'test')])
    assert sorted(idx.tolist()) == list(range(30))
    with pytest.raises(MissingDataError): PathfinderDataset('train', source='official', **kw)
    with pytest.raises(ValueError, match='split'): PathfinderDataset('dev', **kw)


def _fake_lra(root, imgs, labels, binary_meta=False):
    folder = root/'pathfinder32'/'curv_contour_length_14'
    (folder/'metadata').mkdir(parents=True)
    rows = []
    for k, (im, y) in enumerate(zip(imgs, labels)):
        d = folder/'imgs'/'0'; d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(im).save(d/f'sample_{k}.png')
        rows.append(['imgs/0', f'sample_{k}.png', str(k), str(int(y)), '1.0', '14', '4', '2', '0.5', '1', '1'])
    if binary_meta: np.save(folder/'metadata'/'0.npy', np.array(rows))
    else: (folder/'metadata'/'0.npy').write_text('\n'.join(' '.join(r) for r in rows) + '\n')
    return folder


@pytest.mark.parametrize('binary', [False, True])
def test_official_files(tmp_path, binary):
    imgs, labels = generate_pathfinder(10, 32, seed=2)
    folder = _fake_lra(tmp_path, imgs, labels, binary)
    assert find_lra_pathfinder(tmp_path, 32, 'hard') == folder
    assert find_lra_pathfinder(tmp_path, 32, 'easy') is None
    assert read_lra_metadata(folder/'metadata'/'0.npy')[4] == ('imgs/0', 'sample_4.png', int(labels[4]))
    assert len(lra_pathfinder_index(folder)) == 10
    ds = PathfinderDataset('train', root=tmp_path)
    assert ds.official and len(ds) == 8
    k = int(ds.idx[2])
    assert np.array_equal(ds.image(2), imgs[k]) and ds[2][1] == int(labels[k])


# ---------------------------------------------------------------- sequential images

def test_luma_matches_pil():
    rgb = np.random.default_rng(1).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    assert np.array_equal(luma(rgb), np.asarray(Image.fromarray(rgb).convert('L')))


def test_cifar_fake_archive(tmp_path):
    fake = write_fake_cifar10(tmp_path, n=10, seed=3)
    assert (tmp_path/'cifar-10-python.tar.gz').exists()
    with pytest.raises(MissingDataError, match='corrupted'): load_cifar10_gray(tmp_path)  # checksums cannot match
    imgs, labels, classes = load_cifar10_gray(tmp_path, verify=False)
    assert imgs.shape == (50, 32, 32) and classes == CIFAR_CLASSES
    assert np.array_equal(imgs[10:20], luma(fake['data_batch_2'][0]))
    assert np.array_equal(labels[40:], fake['data_batch_5'][1])
    lens = [len(SeqImageDataset('cifar10', s, root=tmp_path, verify=False)) for s in ('train', 'val', 'test')]
    assert lens == [45, 5, 10]
    ds = SeqImageDataset('cifar10', 'test', root=tmp_path, verify=False, tokens=True)
    x, y = ds[4]
    assert torch.equal(x, torch.from_numpy(luma(fake['test_batch'][0][4]).reshape(-1)).long())
    assert y == int(fake['test_batch'][1][4])
    assert ds.info == TaskInfo('cifar10', 256, 1, 10, 1024, False)


def test_cifar_missing(tmp_path):
    with pytest.raises(MissingDataError, match='cifar-10-python.tar.gz'): SeqImageDataset('cifar10', root=tmp_path)


def test_digits_dataset():
    imgs, labels, _ = load_digits_32()
    assert imgs.shape == (1797, 32, 32) and imgs.dtype == np.uint8 and imgs.max() == 255
    ds = SeqImageDataset('digits', 'train')
    assert [len(SeqImageDataset('digits', s)) for s in ('train', 'val', 'test')] == [1257, 269, 271]
    x, y = ds[0]
    assert x.shape == (1024, 1) and x.dtype == torch.float32 and 0 <= y < 10
    allx = torch.stack([ds[i][0] for i in range(len(ds))])
    assert abs(float(allx.mean())) < 1e-4 and abs(float(allx.std()) - 1) < 1e-2
    assert ds.info == TaskInfo('digits', None, 1, 10, 1024, False)
    assert torch.equal(SeqImageDataset('digits', 'val').labels, SeqImageDataset('digits', 'val').labels)
    with pytest.raises(ValueError, match='name'): SeqImageDataset('svhn')

"Tests for the vision data: Fashion-MNIST (sgconv.data.fashion_mnist) and ImageNet / CIFAR-10 images with ConvNeXt's recipe (sgconv.data.imagenet)."
import gzip
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch import nn

from sgconv.data.core import MissingDataError, TaskInfo
from sgconv.data.fashion_mnist import (FASHION_CLASSES, FASHION_DEBIAN_DIR, FashionMNISTDataset, fashion_mnist_root,
                                       load_fashion_mnist, read_idx, write_fake_fashion_mnist, write_idx)
from sgconv.data.imagenet import (CIFAR10Images, ConvNeXtRecipe, ImageNetDataset, convnext_criterion, convnext_ema,
                                  convnext_mixup, convnext_optimizer, convnext_scheduler, convnext_transform,
                                  write_fake_image_folder)
from sgconv.data.images import write_fake_cifar10

@pytest.fixture(scope='module', autouse=True)
def one_thread():
    "Small tensors: one thread is as fast and much steadier on a shared machine"
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


HAVE_REAL = all((FASHION_DEBIAN_DIR/f).is_file() for f in ['train-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'])


# ---------------------------------------------------------------- IDX files

@pytest.mark.parametrize('dtype', [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize('name', ['x.gz', 'x'])
def test_idx_round_trip(tmp_path, dtype, name):
    a = (np.arange(2 * 3 * 5) - 7).astype(dtype).reshape(2, 3, 5) if dtype != np.uint8 else np.arange(30, dtype=np.uint8).reshape(2, 3, 5)
    p = write_idx(tmp_path/name, a)
    b = read_idx(p)
    assert b.dtype == np.dtype(dtype) and b.shape == a.shape and np.array_equal(a, b)


def test_idx_header_and_torchvision_agree(tmp_path):
    imgs = np.random.default_rng(1).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    write_idx(tmp_path/'i.gz', imgs)
    raw = gzip.open(tmp_path/'i.gz').read()
    assert raw[:4] == bytes([0, 0, 8, 3]) and raw[4:16] == np.array([3, 28, 28], '>u4').tobytes() and len(raw) == 16 + 3 * 784
    from torchvision.datasets.mnist import read_image_file
    write_idx(tmp_path/'i', imgs)
    assert np.array_equal(read_image_file(str(tmp_path/'i')).numpy(), read_idx(tmp_path/'i.gz'))


def test_idx_errors(tmp_path):
    (tmp_path/'bad').write_bytes(b'\x1f\x8b nonsense')
    with pytest.raises(ValueError, match='not an IDX file'): read_idx(tmp_path/'bad')
    write_idx(tmp_path/'ok', np.zeros((2, 4), np.uint8))
    (tmp_path/'short').write_bytes((tmp_path/'ok').read_bytes()[:-1])
    with pytest.raises(ValueError, match='bytes of values'): read_idx(tmp_path/'short')
    with pytest.raises(ValueError, match='no IDX type'): write_idx(tmp_path/'x', np.zeros(2, np.int64))


# ---------------------------------------------------------------- Fashion-MNIST on fake files

@pytest.fixture
def fake_fashion(tmp_path):
    return tmp_path, write_fake_fashion_mnist(tmp_path, n_train=50, n_test=20, seed=3)


def test_fashion_load_fake(fake_fashion):
    root, fake = fake_fashion
    for train in (True, False):
        x, y = load_fashion_mnist(root, train=train)
        assert np.array_equal(x, fake[train][0]) and np.array_equal(y, fake[train][1]) and y.dtype == np.int64
        assert not x.flags.writeable


def test_fashion_plain_files_and_env_root(tmp_path, monkeypatch):
    write_fake_fashion_mnist(tmp_path/'fashion_mnist', n_train=10, n_test=10, gz=False)
    monkeypatch.setenv('SGCONV_DATA', str(tmp_path))
    assert fashion_mnist_root() == tmp_path/'fashion_mnist'
    assert len(FashionMNISTDataset('test')) == 10


def test_fashion_missing(tmp_path):
    with pytest.raises(MissingDataError) as e: load_fashion_mnist(tmp_path)
    msg = str(e.value)
    assert 'dataset-fashion-mnist' in msg and str(tmp_path/'train-images-idx3-ubyte.gz') in msg
    write_fake_fashion_mnist(tmp_path, n_train=4, n_test=4)
    (tmp_path/'t10k-labels-idx1-ubyte.gz').unlink()
    with pytest.raises(MissingDataError, match='t10k-labels-idx1-ubyte'): FashionMNISTDataset('test', root=tmp_path)


def test_fashion_mismatched_files(tmp_path):
    write_fake_fashion_mnist(tmp_path, n_train=6, n_test=4)
    write_idx(tmp_path/'t10k-labels-idx1-ubyte.gz', np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match='need uint8 images'): load_fashion_mnist(tmp_path, train=False)
    write_idx(tmp_path/'t10k-labels-idx1-ubyte.gz', np.full(4, 12, np.uint8))
    with pytest.raises(ValueError, match='not a class'): load_fashion_mnist(tmp_path, train=False)


def test_fashion_dataset_image_form(fake_fashion):
    root, fake = fake_fashion
    ds = {s: FashionMNISTDataset(s, root=root, val_frac=0.2, seed=1) for s in ('train', 'val', 'test')}
    assert [len(d) for d in ds.values()] == [40, 10, 20]
    x, y = ds['test'][4]
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32 and y == int(fake[False][1][4])
    assert torch.allclose(x[0] * ds['test'].std + ds['test'].mean, torch.from_numpy(fake[False][0][4]).float() / 255, atol=1e-5)
    assert ds['test'].mean == ds['train'].mean and ds['train'].info == TaskInfo('fashion_mnist', None, 1, 10, 784, shape=(1, 28, 28))
    xs = torch.stack([ds['train'][i][0] for i in range(40)])
    assert abs(xs.mean()) < 1e-4 and abs(xs.std(unbiased=False) - 1) < 1e-3   # exact training statistics
    tr = {bytes(im.numpy()) for im in ds['train'].images}
    assert not any(bytes(im.numpy()) in tr for im in ds['val'].images)
    assert torch.equal(FashionMNISTDataset('val', root=root, val_frac=0.2, seed=1).images, ds['val'].images)
    assert ds['train'].classes == FASHION_CLASSES


def test_fashion_dataset_padding_sequence_augment(fake_fashion):
    root, fake = fake_fashion
    img = FashionMNISTDataset('test', root=root, pad=True)
    seq = FashionMNISTDataset('test', root=root, form='sequence')
    assert img[0][0].shape == (1, 32, 32) and seq[0][0].shape == (1024, 1) and seq.info.l_max == 1024
    assert torch.equal(img.images[:, 2:30, 2:30], torch.from_numpy(fake[False][0])) and (img.images[:, :, :2] == 0).all()
    assert torch.allclose(seq[5][0].reshape(32, 32), img[5][0][0], atol=1e-6)
    assert FashionMNISTDataset('test', root=root, form='sequence', pad=False)[0][0].shape == (784, 1)
    aug = FashionMNISTDataset('train', root=root, pad=True, augment=True, crop_padding=4)
    torch.manual_seed(0)
    views = torch.stack([aug[0][0] for _ in range(6)])
    assert views.shape == (6, 1, 32, 32) and (views != views[0]).any()
    assert FashionMNISTDataset('test', root=root, augment=True)._aug is None


def test_fashion_dataset_errors(fake_fashion):
    root, _ = fake_fashion
    with pytest.raises(ValueError, match='split must be one of'): FashionMNISTDataset('dev', root=root)
    with pytest.raises(ValueError, match='form must be one of'): FashionMNISTDataset('train', root=root, form='tokens')
    with pytest.raises(ValueError, match='val_frac'): FashionMNISTDataset('train', root=root, val_frac=-0.1)
    with pytest.raises(IndexError, match='out of range'): FashionMNISTDataset('test', root=root)[20]


@pytest.mark.skipif(not HAVE_REAL, reason="Debian's dataset-fashion-mnist is not installed")
def test_fashion_real_files():
    x, y = load_fashion_mnist(FASHION_DEBIAN_DIR)
    assert x.shape == (60000, 28, 28) and np.bincount(y).tolist() == [6000] * 10
    tx, ty = load_fashion_mnist(FASHION_DEBIAN_DIR, train=False)
    assert tx.shape == (10000, 28, 28) and np.bincount(ty).tolist() == [1000] * 10
    assert [len(FashionMNISTDataset(s, root=FASHION_DEBIAN_DIR)) for s in ('train', 'val', 'test')] == [54000, 6000, 10000]


# ---------------------------------------------------------------- ImageNet tree and ConvNeXt's recipe

@pytest.fixture
def tree(tmp_path):
    return tmp_path, write_fake_image_folder(tmp_path, n_classes=3, per_class=2, size=(30, 41))


def test_recipe_numbers():
    r = ConvNeXtRecipe()
    assert (r.epochs, r.lr, r.batch_size, r.weight_decay, r.warmup_epochs, r.auto_augment) == (300, 4e-3, 4096, 0.05, 20, 'rand-m9-mstd0.5-inc1')
    assert (r.mixup, r.cutmix, r.smoothing, r.re_prob, r.layer_scale, r.ema, r.ema_decay) == (0.8, 1.0, 0.1, 0.25, 1e-6, True, 0.9999)
    assert [ConvNeXtRecipe.for_size(s).drop_path for s in ('tiny', 'small', 'base', 'large')] == [0.1, 0.4, 0.5, 0.5]
    assert r.scaled_lr(512) == pytest.approx(5e-4)
    with pytest.raises(ValueError, match='size must be one of'): ConvNeXtRecipe.for_size('xl')
    with pytest.raises(ValueError, match='batch_size'): r.scaled_lr(0)


def test_imagenet_folder_and_transforms(tree):
    root, classes = tree
    tr = ImageNetDataset('train', root=root, image_size=48)
    va, te = ImageNetDataset('val', root=root, image_size=48), ImageNetDataset('test', root=root, image_size=48)
    assert len(tr) == len(va) == len(te) == 6 and tr.classes == classes
    assert {p.rsplit('.', 1)[1] for p, _ in tr.folder.samples} == {'JPEG', 'png'}
    x, y = tr[3]
    assert x.shape == (3, 48, 48) and x.dtype == torch.float32 and y == 1
    assert torch.equal(va[2][0], va[2][0]) and tr.info == TaskInfo('imagenet', None, 3, 3, 48 * 48, shape=(3, 48, 48))
    assert ImageNetDataset('train', root=root, image_size=32)[0][0].shape == (3, 32, 32)   # padded random crop path
    t = convnext_transform(ConvNeXtRecipe(), train=True, image_size=32)
    assert type(t.transforms[0]).__name__ == 'RandomCrop'
    names = [type(s).__name__ for s in convnext_transform(ConvNeXtRecipe(), train=True).transforms]
    assert names[0] == 'RandomResizedCropAndInterpolation' and 'RandAugment' in names and names[-1] == 'RandomErasing'


def test_imagenet_missing(tmp_path):
    with pytest.raises(MissingDataError, match='image-net.org'): ImageNetDataset('train', root=tmp_path)
    (tmp_path/'val'/'n0').mkdir(parents=True)
    with pytest.raises(MissingDataError, match='found no images'): ImageNetDataset('val', root=tmp_path)


def test_mixup_loss_ema_optimizer(tree):
    root, _ = tree
    r = ConvNeXtRecipe()
    ds = ImageNetDataset('train', root=root, image_size=40)
    x = torch.stack([ds[i][0] for i in range(6)]); y = torch.tensor(ds.folder.targets[:6])
    torch.manual_seed(1); np.random.seed(1)
    xm, ym = convnext_mixup(r, 3)(x, y)
    assert xm.shape == (6, 3, 40, 40) and ym.shape == (6, 3) and torch.allclose(ym.sum(1), torch.ones(6))
    model = nn.Sequential(nn.Conv2d(3, 2, 4, 4), nn.Flatten(), nn.Linear(200, 3))
    loss = convnext_criterion(r)(model(xm), ym)
    assert type(convnext_criterion(r)).__name__ == 'SoftTargetCrossEntropy' and torch.isfinite(loss)
    opt = convnext_optimizer(model, r, batch_size=256)
    assert {g['weight_decay'] for g in opt.param_groups} == {0.0, 0.05}
    assert all(g['lr'] == pytest.approx(2.5e-4) for g in opt.param_groups)
    sched = convnext_scheduler(opt, r, steps_per_epoch=2)
    sched.step_update(20); assert opt.param_groups[0]['lr'] == pytest.approx(1.25e-4)     # half-way through warmup
    sched.step_update(40); assert opt.param_groups[0]['lr'] == pytest.approx(2.5e-4)
    sched.step_update(600); assert opt.param_groups[0]['lr'] == pytest.approx(1e-6)
    ema = convnext_ema(model, replace(r, ema_decay=0.5))
    w = model[2].weight.detach().clone()
    loss.backward(); opt.step(); ema.update(model)
    assert torch.allclose(ema.module[2].weight, 0.5 * w + 0.5 * model[2].weight.detach(), atol=1e-7)
    assert convnext_mixup(replace(r, mixup=0.0, cutmix=0.0), 3) is None
    assert isinstance(convnext_criterion(replace(r, mixup=0.0, cutmix=0.0, smoothing=0.0)), nn.CrossEntropyLoss)


def test_cifar10_images(tmp_path):
    fake = write_fake_cifar10(tmp_path, n=6)
    ds = {s: CIFAR10Images(s, root=tmp_path, verify=False, val_frac=0.2) for s in ('train', 'val', 'test')}
    assert [len(d) for d in ds.values()] == [24, 6, 6]
    x, y = ds['test'][1]
    assert x.shape == (3, 32, 32) and y == int(fake['test_batch'][1][1]) and ds['test'].info.d_input == 3
    back = x * ds['test'].std[:, None, None] + ds['test'].mean[:, None, None]
    assert torch.allclose(back, torch.from_numpy(fake['test_batch'][0][1]).permute(2, 0, 1).float() / 255, atol=1e-5)
    assert CIFAR10Images('train', root=tmp_path, verify=False, augment=True)[0][0].shape == (3, 32, 32)
    with pytest.raises(MissingDataError, match='rejected'): CIFAR10Images('train', root=tmp_path)
    with pytest.raises(MissingDataError): CIFAR10Images('train', root=tmp_path/'none')

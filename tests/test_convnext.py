"Tests for SGConvNeXt (sgconv.convnext): the SGConv wrapper, the models, FLOPs, kernel tools, Grad-CAM and pruning."
import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sgconv.kernel import num_scales
from sgconv.convnext import (CONVNEXT_CONFIGS, SGConv2d, TruncatedSGConv2d, convnext_model, count_flops, count_params,
                             default_stem_stride, fft_flop_rules, fft_plan, fold_kernel, grad_cam, kernel_profile, prefix_lengths,
                             prune_kernels, pruning_speed, pruning_summary, sgconv_layers, sgconv_scale_dim, stage_kernels,
                             stage_sizes, throughput)


@pytest.fixture(scope='module', autouse=True)
def one_thread():
    "Tiny models: one thread is as fast and much steadier on a shared machine"
    n = torch.get_num_threads(); torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope='module')
def atto():
    torch.manual_seed(0)
    return convnext_model('atto', num_classes=10).eval()


@pytest.fixture(scope='module')
def small():
    "atto at 16 px (maps 16, 8, 4, 2): the cheap model for the heavier checks"
    torch.manual_seed(0)
    return convnext_model('atto', num_classes=10, image_size=16).eval()


@pytest.fixture(scope='module')
def small_conv():
    torch.manual_seed(0)
    return convnext_model('atto', variant='conv', num_classes=10, image_size=16).eval()


@pytest.fixture(scope='module')
def atto_conv():
    torch.manual_seed(0)
    return convnext_model('atto', variant='conv', num_classes=10).eval()


# ---------------------------------------------------------------- the scale rule and the wrapper

def test_scale_rule_gives_five_scales():
    assert [sgconv_scale_dim(s * s) for s in (56, 28, 14, 7)] == [(3136, 196), (784, 49), (196, 13), (49, 4)]
    assert sgconv_scale_dim(4) == (16, 1)
    for L in range(1, 5000):
        l_max, d = sgconv_scale_dim(L)
        assert num_scales(l_max, d) == 5 and l_max >= L and 16 * d >= L


def test_wrapper_matches_loop_and_keeps_shape_dtype():
    torch.manual_seed(0)
    layer = SGConv2d(3, (4, 5))
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    with torch.no_grad():
        y = layer(x)
        kf, kb = (k.double() for k in layer.kernels())
        u, L = x.flatten(2), 20
        ref = torch.zeros_like(u)
        for p in range(L):
            for t in range(p + 1): ref[..., p] += kf[:, t] * u[..., p - t]
            for t in range(1, L - p): ref[..., p] += kb[:, t - 1] * u[..., p + t]
        ref += layer.conv.D[0].double()[:, None] * u + layer.bias.double()[:, None]
    assert y.shape == x.shape and y.dtype == torch.float64
    assert torch.allclose(y.flatten(2), ref, atol=1e-5)
    for dt in (torch.float32, torch.bfloat16, torch.float16):
        assert layer(x.to(dt)).dtype == dt
    cl = x.float().to(memory_format=torch.channels_last)
    assert torch.equal(layer(cl), layer(x.float().contiguous()))


def test_wrapper_state_dict_and_errors():
    a, b = SGConv2d(4, (6, 6)), SGConv2d(4, (6, 6))
    b.load_state_dict(a.state_dict())
    x = torch.randn(1, 4, 6, 6)
    assert torch.equal(a(x), b(x))
    with pytest.raises(ValueError, match='built for 6x6 feature maps, got 6x7'): a(torch.randn(1, 4, 6, 7))
    with pytest.raises(ValueError, match='has 3 channels, the layer has 4'): a(torch.randn(1, 3, 6, 6))
    with pytest.raises(ValueError, match='4-D'): a(torch.randn(4, 36))
    with pytest.raises(TypeError, match='floating point'): a(torch.zeros(1, 4, 6, 6, dtype=torch.int32))
    with pytest.raises(ValueError, match='width must be'): SGConv2d(4, (6, 0))


# ---------------------------------------------------------------- the models

def test_stages_and_stems():
    assert stage_sizes(224, 4) == [(56, 56), (28, 28), (14, 14), (7, 7)]
    assert [default_stem_stride(s) for s in (224, 64, 32)] == [4, 2, 1]
    with pytest.raises(ValueError, match='too small'): stage_sizes(8, 4)


def test_every_depthwise_conv_replaced_with_five_scales(atto, atto_conv):
    layers = sgconv_layers(atto)
    assert len(layers) == sum(CONVNEXT_CONFIGS['atto'].depths) == 12
    assert not [m for m in atto.modules() if isinstance(m, nn.Conv2d) and m.groups > 1]
    assert len([m for m in atto_conv.modules() if isinstance(m, nn.Conv2d) and m.groups == m.in_channels > 1]) == 12
    assert {l.conv.kernel.n_scales for _, l in layers} == {5}
    assert {(l.size, l.conv.kernel.kernel_dim) for _, l in layers} == {((32, 32), 64), ((16, 16), 16), ((8, 8), 4), ((4, 4), 1)}
    assert all(l.conv.bidirectional and l.conv.transposed for _, l in layers)


def test_forward_shapes_dtypes_and_state_dict(small):
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        y = small(x)
        assert y.shape == (2, 10) and y.dtype == torch.float32
        other = convnext_model('atto', num_classes=10, image_size=16).eval()
        other.load_state_dict(small.state_dict())
        assert torch.equal(other(x), y)
        assert copy.deepcopy(small).double()(x.double()).dtype == torch.float64
    g = convnext_model('atto', num_classes=5, in_chans=1, image_size=28)
    assert g(torch.randn(1, 1, 28, 28)).shape == (1, 5) and g.stage_sizes[-1] == (3, 3)


def test_model_errors(atto):
    with pytest.raises(ValueError, match=r'built for images \(batch, 3, 32, 32\)'): atto(torch.randn(1, 3, 40, 40))
    with pytest.raises(ValueError, match='name must be one of'): convnext_model('giant')
    with pytest.raises(ValueError, match='variant must be one of'): convnext_model('atto', variant='vit')
    with pytest.raises(ValueError, match='num_classes'): convnext_model('atto', num_classes=0)


def test_baseline_parameter_count():
    with torch.device('meta'): tiny = convnext_model('tiny', variant='conv')      # shapes only: no initialisation cost
    assert count_params(tiny) == 28_589_128          # torchvision's published ConvNeXt-T: 28.6M (28,589,128)
    assert tiny.stem_stride == 4 and tiny.image_size == (224, 224)


def test_gradients_reach_kernels(small):
    m = copy.deepcopy(small).train()
    loss = F.cross_entropy(m(torch.randn(2, 3, 16, 16)), torch.tensor([1, 2]))
    loss.backward()
    assert all(l.conv.kernel.weight.grad.abs().sum() > 0 for _, l in sgconv_layers(m))


# ---------------------------------------------------------------- FLOPs and throughput

def test_flop_rules_count_ffts():
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False, custom_mapping=fft_flop_rules()) as fc:
        s = torch.fft.rfft(torch.randn(2, 256))
        torch.fft.irfft(s * s, n=256)
    counts = {str(k).split('.')[-1]: v for k, v in fc.get_flop_counts()['Global'].items()}
    assert counts == {'_fft_r2c': 2 * 2.5 * 256 * 8, '_fft_c2r': 2 * 2.5 * 256 * 8, 'mul': 6 * 2 * 129}


def test_count_flops_sees_fft_work(small, small_conv):
    x = torch.randn(1, 3, 16, 16)
    sg, cv = count_flops(small, x), count_flops(small_conv, x)
    assert sg['fft'] > 0 and sg['spectral_mul'] > 0 and cv['fft'] == 0 == cv['spectral_mul']
    assert sg['matmul'] == cv['matmul'] and sg['total'] == sum(v for k, v in sg.items() if k != 'total')
    assert count_flops(small, x, backward=True)['fft'] > 2 * sg['fft'] and not small.training


def test_throughput_runs(small):
    assert throughput(small, batch_size=2, steps=1, warmup=0) > 0
    assert throughput(copy.deepcopy(small), batch_size=2, steps=1, warmup=0, train=True) > 0 and not small.training


# ---------------------------------------------------------------- kernels and Grad-CAM

def test_stage_kernels_and_folding(atto):
    sk = stage_kernels(atto)
    assert [s['size'] for s in sk] == atto.stage_sizes and [len(s['names']) for s in sk] == [2, 2, 6, 2]
    assert sk[1]['forward'].shape == (2, 80, 256) and sk[1]['backward'].shape == (2, 80, 255)
    assert torch.equal(fold_kernel(torch.arange(12.), (3, 4))[2], torch.tensor([8., 9, 10, 11]))
    assert fold_kernel(sk[1]['backward'], (16, 16)).shape == (2, 80, 16, 16)
    assert kernel_profile(sk[0]['forward']).shape == (1024,)
    with pytest.raises(ValueError, match='does not fit'): fold_kernel(torch.zeros(13), (3, 4))


def test_grad_cam(small):
    x = torch.randn(3, 3, 16, 16)
    cams, cls = grad_cam(small, x)
    assert cams.shape == (3, 16, 16) and cams.min() >= 0 and torch.allclose(cams.flatten(1).max(1).values, torch.ones(3))
    assert torch.equal(cls, small(x).argmax(1))
    cams2, cls2 = grad_cam(small, x, target=torch.tensor([0, 1, 2]))
    assert cls2.tolist() == [0, 1, 2] and not small.training


# ---------------------------------------------------------------- pruning

def test_prefix_lengths():
    k = torch.tensor([[3., 0., 1., 0.], [0., 0., 0., 0.]])
    assert prefix_lengths(k, 1.0).tolist() == [3, 0]
    assert prefix_lengths(k, 0.9).tolist() == [1, 0]
    assert prefix_lengths(k, 0.95).tolist() == [3, 0]
    with pytest.raises(ValueError, match='energy'): prefix_lengths(k, 1.5)


@pytest.mark.parametrize('mode', ['fft', 'fft_small', 'direct', 'auto'])
def test_truncated_layer_modes(mode):
    torch.manual_seed(0)
    layer = SGConv2d(5, (6, 7)).eval()
    x = torch.randn(2, 5, 6, 7)
    with torch.no_grad():
        assert torch.allclose(TruncatedSGConv2d(layer, 1.0, mode=mode)(x), layer(x), atol=1e-5)
        cut = TruncatedSGConv2d(layer, 0.8, mode=mode)
        assert torch.allclose(cut(x), TruncatedSGConv2d(layer, 0.8, mode='direct')(x), atol=1e-5)
    assert cut.kept_taps < cut.total_taps == 5 * (42 + 41)


def test_fft_plan_and_overlap_save():
    assert fft_plan(1024, 1024, 1023) == ('single', 2048) and fft_plan(1024, 16, 16) == ('blocks', 128)
    assert fft_plan(3136, 3136, 3135) == ('single', 6400) and fft_plan(1024, 32, 32) == ('single', 1152)
    assert fft_plan(16, 16, 15) == ('single', 32) and fft_plan(1, 1, 0) == ('single', 1)
    torch.manual_seed(0)
    layer = SGConv2d(3, (32, 32)).eval()
    with torch.no_grad():
        layer.conv.kernel.weight[..., 1:, :] *= 0.01                    # energy in the first taps
        layer.conv.kernel.weight[..., 0, 16:] = 0                        # ... the first 16 of them (d = 64)
        cut = TruncatedSGConv2d(layer, 0.99, mode='fft_small')
        assert cut.plan[0] == 'blocks'
        x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
        ref = TruncatedSGConv2d(layer, 0.99, mode='direct')(x)
        assert cut(x).dtype == torch.float64 and torch.allclose(cut(x), ref, atol=1e-5)
        assert torch.allclose(cut(x.float().to(memory_format=torch.channels_last)).double(), ref, atol=1e-4)


def test_prune_model(small):
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        ref = small(x)
        p1, f1 = prune_kernels(small, 1.0)
        assert torch.allclose(p1(x), ref, atol=1e-4) and f1 == pytest.approx(1.0, abs=1e-3)
        p9, f9 = prune_kernels(small, 0.9)
        p5, f5 = prune_kernels(small, 0.5)
        assert f5 < f9 < f1 and p9(x).shape == (2, 10)
    assert len(sgconv_layers(small)) == 12 and not sgconv_layers(p9)
    rows = pruning_summary(p9)
    assert len(rows) == 12 and all(0 < r['kept'] < 1 and r['n_forward'] <= r['size'][0] * r['size'][1] for r in rows)
    with pytest.raises(ValueError, match='no SGConv2d'): prune_kernels(nn.Linear(2, 2), 0.9)


def test_pruning_speed_rows(small):
    rows = pruning_speed(small, energies=(0.9,), modes=('fft_small', 'direct'), batch_size=1, steps=1, repeats=1)
    assert [r['mode'] for r in rows] == ['original', 'fft_small', 'direct']
    assert all(r['layers_ms'] > 0 and r['model_speedup'] > 0 for r in rows) and rows[0]['layers_speedup'] == 1.0

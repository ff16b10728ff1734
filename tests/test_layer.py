"The SGConv layer and block: shapes, causality, step() against forward, checkpoints, errors."
import io
import pytest, torch
from torch import nn
from sgconv.layer import SGConv, SGConvBlock, GlobalConv
from sgconv.kernel import SGConvKernel


@pytest.mark.parametrize('bidirectional', [False, True])
@pytest.mark.parametrize('channels', [1, 3])
@pytest.mark.parametrize('output', ['linear', 'glu'])
def test_shapes_and_layouts(bidirectional, channels, output):
    torch.manual_seed(0)
    a = SGConv(8, 300, kernel_dim=4, channels=channels, bidirectional=bidirectional, output=output).eval()
    b = SGConv(8, 300, kernel_dim=4, channels=channels, bidirectional=bidirectional, output=output, transposed=True).eval()
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 257, 8)
    with torch.no_grad():
        y = a(x)
        assert y.shape == x.shape and y.dtype == x.dtype
        torch.testing.assert_close(b(x.transpose(1, 2)).transpose(1, 2), y)


def test_causal_layer_ignores_future():
    torch.manual_seed(0)
    m = SGConvBlock(8, 256, kernel_dim=4)
    x = torch.randn(2, 256, 8)
    x2 = x.clone(); x2[:, 100:] += 1.0
    with torch.no_grad(): torch.testing.assert_close(m(x2)[:, :100], m(x)[:, :100], rtol=0, atol=1e-5)


@pytest.mark.parametrize('norm', ['layer', 'batch'])
@pytest.mark.parametrize('prenorm', [True, False])
def test_step_reproduces_forward(norm, prenorm):
    torch.manual_seed(0)
    m = SGConvBlock(6, 80, norm=norm, prenorm=prenorm, kernel_dim=4, channels=2).eval()
    x = torch.randn(3, 80, 6)
    with torch.no_grad():
        full, state, outs = m(x), m.default_state(3), []
        for t in range(80):
            y, state = m.step(x[:, t], state); outs.append(y)
    torch.testing.assert_close(torch.stack(outs, 1), full, rtol=1e-5, atol=1e-5)


def test_short_inputs_use_truncated_kernel():
    torch.manual_seed(0)
    m = SGConv(4, 512, kernel_dim=8).eval()
    x = torch.randn(1, 512, 4)
    with torch.no_grad(): torch.testing.assert_close(m(x[:, :100]), m(x)[:, :100], rtol=1e-5, atol=1e-5)


def test_gradcheck_layer():
    torch.manual_seed(0)
    m = SGConv(3, 12, kernel_dim=2, bidirectional=True).double()
    x = torch.randn(2, 9, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(m, (x,))


def test_state_dict_roundtrip_into_fresh_model():
    torch.manual_seed(0)
    a = nn.Sequential(*[SGConvBlock(8, 1000, kernel_dim=16, bidirectional=True, decay=(1 / 3, 1.0), init='cosine') for _ in range(2)]).eval()
    buf = io.BytesIO(); torch.save(a.state_dict(), buf); buf.seek(0)
    torch.manual_seed(123)
    b = nn.Sequential(*[SGConvBlock(8, 1000, kernel_dim=16, bidirectional=True, decay=(1 / 3, 1.0), init='cosine') for _ in range(2)]).eval()
    b.load_state_dict(torch.load(buf))
    x = torch.randn(2, 1000, 8)
    with torch.no_grad(): torch.testing.assert_close(b(x), a(x), rtol=0, atol=0)


def test_eval_cache_tracks_parameter_updates():
    m = SGConv(4, 64, kernel_dim=4).eval()
    x = torch.randn(1, 64, 4)
    with torch.no_grad():
        y0 = m(x)
        m.kernel.weight.mul_(2.0)
        m.kernel.weight.add_(torch.randn_like(m.kernel.weight))
        y1 = m(x)
    assert not torch.allclose(y0, y1)
    m.train()
    with torch.no_grad(): torch.testing.assert_close(m(x), y1)


def test_errors():
    m = SGConv(16, 100, kernel_dim=8)
    with pytest.raises(ValueError, match='3-D'): m(torch.randn(100, 16))
    with pytest.raises(ValueError, match='d_model=16'): m(torch.randn(2, 100, 12))
    with pytest.raises(ValueError, match='exceeds l_max'): m(torch.randn(2, 101, 16))
    with pytest.raises(TypeError, match='floating point'): m(torch.ones(2, 10, 16, dtype=torch.int64))
    with pytest.raises(ValueError, match='kernel must return'): GlobalConv(SGConvKernel(16, 100), 16, 100, channels=2)
    with pytest.raises(ValueError, match='causal'): SGConv(16, 100, bidirectional=True).default_state(1)

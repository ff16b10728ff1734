"FFT convolution against direct convolution in float64, dtypes, gradients and errors."
import pytest, torch
import torch.nn.functional as F
from sgconv.fftconv import fftconv, next_fast_len, fft_size


def direct(u, k, b=None):
    "y_t = sum_{j<=t} k_j u_{t-j} + sum_j b_j u_{t+1+j}, as explicit loops over t (float64)."
    u, k = u.double(), k.double()
    L = u.shape[-1]
    y = torch.zeros(torch.broadcast_shapes(u.shape, k.shape[:-1] + (L,)), dtype=torch.float64)
    for t in range(L):
        n = min(t + 1, k.shape[-1])
        y[..., t] = (k[..., :n] * u[..., t - n + 1:t + 1].flip(-1)).sum(-1)
        if b is not None and t + 1 < L:
            m = min(L - 1 - t, b.shape[-1])
            y[..., t] += (b.double()[..., :m] * u[..., t + 1:t + 1 + m]).sum(-1)
    return y


@pytest.mark.parametrize('L', [1, 2, 5, 64, 97, 250])
@pytest.mark.parametrize('bidirectional', [False, True])
def test_matches_direct(L, bidirectional):
    g = torch.Generator().manual_seed(L)
    u = torch.randn(2, 3, L, generator=g, dtype=torch.float64)
    k = torch.randn(3, L, generator=g, dtype=torch.float64)
    b = torch.randn(3, L, generator=g, dtype=torch.float64) if bidirectional else None
    torch.testing.assert_close(fftconv(u, k, b), direct(u, k, b), rtol=0, atol=1e-10)


def test_short_kernel_and_channels():
    u = torch.randn(2, 1, 3, 50, dtype=torch.float64)
    k = torch.randn(4, 3, 7, dtype=torch.float64)
    y = fftconv(u, k)
    assert y.shape == (2, 4, 3, 50)
    torch.testing.assert_close(y, direct(u, k), rtol=0, atol=1e-10)


def test_causality():
    u = torch.randn(2, 4, 300)
    k = torch.randn(4, 300) / 300 ** 0.5
    u2 = u.clone(); u2[..., 200:] = torch.randn(2, 4, 100)
    torch.testing.assert_close(fftconv(u2, k)[..., :200], fftconv(u, k)[..., :200], rtol=0, atol=1e-5)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_half_precision_returns_its_dtype(dtype):
    u, k = torch.randn(2, 4, 100).to(dtype), (torch.randn(4, 100) / 10).to(dtype)
    y = fftconv(u, k)
    assert y.dtype == dtype
    torch.testing.assert_close(y.float(), fftconv(u.float(), k.float()), rtol=2e-2, atol=2e-2)


def test_gradcheck():
    u = torch.randn(1, 2, 13, dtype=torch.float64, requires_grad=True)
    k = torch.randn(2, 13, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, 13, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(fftconv, (u, k, b))


def test_fft_sizes_are_5_smooth_and_large_enough():
    for n in range(1, 5000, 37):
        m = next_fast_len(n)
        assert m >= n
        for p in (2, 3, 5):
            while m % p == 0: m //= p
        assert m == 1
    assert fft_size(1000, 1000) >= 1999 and fft_size(1000, 1000, 999) >= 1999 + 1


def test_errors():
    with pytest.raises(TypeError, match='floating point'): fftconv(torch.ones(1, 2, 8, dtype=torch.int64), torch.randn(2, 8))
    with pytest.raises(ValueError, match='features'): fftconv(torch.randn(1, 2, 8), torch.randn(3, 8))
    with pytest.raises(ValueError, match='shape'): fftconv(torch.randn(8), torch.randn(8))

"Eq. (1) and Cat*(S) against independent float64 implementations; the module's normalisation Z."
import io
import pytest, torch
import torch.nn.functional as F
from sgconv.kernel import num_scales, scale_lengths, multiscale_kernel, disentangled_kernel, SGConvKernel


def eq1(ws, length, decay):
    "Eq. (1) before normalisation, written from the paper: loop over scales, F.interpolate, concatenate, truncate."
    d = ws[0].shape[-1]
    parts = []
    for i, w in enumerate(ws):
        size = 2 ** max(i - 1, 0) * d
        parts.append(decay ** i * F.interpolate(w.reshape(-1, 1, d), size=size, mode='linear').reshape(*w.shape[:-1], size))
    return torch.cat(parts, -1)[..., :length]


@pytest.mark.parametrize('d', [1, 3, 8, 64])
@pytest.mark.parametrize('L', [1, 63, 100, 1000, 4097])
@pytest.mark.parametrize('decay', [0.5, 0.8, 1.0])
def test_multiscale_matches_eq1(d, L, decay):
    g = torch.Generator().manual_seed(L * 7 + d)
    ws = [torch.randn(2, 5, d, generator=g, dtype=torch.float64) for _ in range(num_scales(L, d))]
    k = multiscale_kernel(ws, L, decay)
    assert k.shape == (2, 5, L) and k.dtype == torch.float64
    torch.testing.assert_close(k, eq1(ws, L, decay), rtol=0, atol=1e-12)
    torch.testing.assert_close(multiscale_kernel(torch.stack(ws), L, decay), k, rtol=0, atol=0)


@pytest.mark.parametrize('t', [0.0, 0.5, 1.0, 2.0])
@pytest.mark.parametrize('L', [10, 333, 2048])
def test_disentangled_matches_cat_star(t, L):
    d = 8
    ws = [torch.randn(4, d, dtype=torch.float64) for _ in range(num_scales(L, d))]
    pos = torch.arange(1, L + 1, dtype=torch.float64)
    torch.testing.assert_close(disentangled_kernel(ws, L, t), eq1(ws, L, 1.0) * pos ** -t, rtol=0, atol=1e-12)


def test_num_scales_covers_exactly():
    for d in [1, 2, 5, 64]:
        for L in range(1, 600, 7):
            n = num_scales(L, d)
            assert sum(scale_lengths(n, d)) >= L
            assert n == 1 or sum(scale_lengths(n - 1, d)) < L


def test_too_few_scales_and_bad_input():
    ws = [torch.randn(3, 4) for _ in range(2)]          # covers 2 * 4 = 8 positions
    with pytest.raises(ValueError, match='too few scales'): multiscale_kernel(ws, 9)
    with pytest.raises(TypeError, match='floating point'): multiscale_kernel([w.int() for w in ws], 8)
    with pytest.raises(ValueError, match='length'): num_scales(0, 4)
    with pytest.raises(ValueError, match='l_max'): SGConvKernel(4, 64)(65)


def test_per_channel_decay():
    L, d = 500, 4
    ws = [torch.randn(3, d, dtype=torch.float64) for _ in range(num_scales(L, d))]
    alpha = torch.tensor([0.4, 0.7, 1.0], dtype=torch.float64)
    k = multiscale_kernel(ws, L, alpha)
    for c in range(3): torch.testing.assert_close(k[c], eq1([w[c] for w in ws], L, alpha[c].item()), rtol=0, atol=1e-12)


@pytest.mark.parametrize('kw', [{}, dict(channels=2, decay=(1 / 3, 1.0), init='cosine'), dict(disentangled_t=1.0)])
def test_unit_norm_fixed_z_and_checkpoint(kw):
    torch.manual_seed(0)
    m = SGConvKernel(6, 777, kernel_dim=16, **kw)
    with torch.no_grad():
        torch.testing.assert_close(m().norm(dim=-1), torch.ones(m.channels, 6))
    z = m.kernel_norm.clone()
    opt = torch.optim.Adam(m.parameters(), lr=0.05)
    for _ in range(3):
        opt.zero_grad(); m()[..., :100].pow(2).sum().backward(); opt.step()
    assert torch.equal(m.kernel_norm, z)                 # Z stays fixed in training
    buf = io.BytesIO(); torch.save(m.state_dict(), buf); buf.seek(0)
    torch.manual_seed(1)
    fresh = SGConvKernel(6, 777, kernel_dim=16, **kw)
    fresh.load_state_dict(torch.load(buf))
    with torch.no_grad(): torch.testing.assert_close(fresh(), m(), rtol=0, atol=0)


def test_parameters_grow_logarithmically():
    counts = [SGConvKernel(1, 2 ** e, kernel_dim=32).weight.numel() for e in range(6, 16)]
    assert [b - a for a, b in zip(counts, counts[1:])] == [32] * 9

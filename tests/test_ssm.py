"Tests for `sgconv.ssm`: HiPPO/NPLR/DPLR forms, the Cauchy kernel, and the S4 / S4D kernels against dense matrix powers"
import math

import pytest
import torch

from sgconv.ssm import (hippo_legs, nplr_legs, dplr_legs, cauchy, diag_init, diag_kernel, dplr_kernel,
                        dplr_discretize, S4DKernel, S4Kernel, register_ssm_param, log_dt_init,
                        DIAG_INITS)
from sgconv.analysis import kernel_param_counts, tail_envelope

C128 = torch.complex128


def crand(*shape, seed=None):
    g = torch.Generator().manual_seed(seed) if seed is not None else None
    return torch.randn(*shape, dtype=C128, generator=g)


def complete(x): return torch.cat([x, x.conj()], -1)


def nparams(m): return sum(p.numel() for p in m.parameters())


def naive_diag(Lam, B, C, dt, L):
    "Dense ZOH via matrix_exp and explicit powers"
    out = torch.zeros(C.shape[0], Lam.shape[0], L, dtype=torch.float64)
    for h in range(Lam.shape[0]):
        A = torch.diag(complete(Lam[h])).to(C128)
        Ab = torch.linalg.matrix_exp(dt[h] * A)
        Bb = torch.linalg.solve(A, (Ab - torch.eye(len(A), dtype=C128)) @ complete(B[h]).to(C128))
        for c in range(C.shape[0]):
            x, Cf = Bb, complete(C[c, h]).to(C128)
            for k in range(L): out[c, h, k] = (Cf @ x).real; x = Ab @ x
    return out


def naive_dplr(Lam, P, B, Ct, dt, L):
    "Dense bilinear SSM built from scratch; C = C~ (I - Abar^L)^{-1}; K_k = C Abar^k Bbar"
    Lam, P, B, Ct, dt = Lam.to(C128), P.to(C128), B.to(C128), Ct.to(C128), dt.double()
    H, N = Lam.shape[0], 2 * Lam.shape[1]
    I = torch.eye(N, dtype=C128)
    out = torch.zeros(Ct.shape[0], H, L, dtype=torch.float64)
    for h in range(H):
        p = complete(P[h])
        A = torch.diag(complete(Lam[h])) - torch.outer(p, p.conj())
        M = I - dt[h] / 2 * A
        Ab = torch.linalg.inv(M) @ (I + dt[h] / 2 * A)
        Bb = torch.linalg.inv(M) @ (dt[h] * complete(B[h]))
        AL = torch.linalg.matrix_power(Ab, L)
        for c in range(Ct.shape[0]):
            Cf = complete(Ct[c, h]) @ torch.linalg.inv(I - AL)
            x = Bb
            for k in range(L):
                y = Cf @ x
                assert abs(y.imag) <= 1e-8 * (1 + abs(y))
                out[c, h, k] = y.real; x = Ab @ x
    return out


# ---------------------------------------------------------------- HiPPO and its NPLR / DPLR forms

@pytest.mark.parametrize("N", [1, 3, 8])
def test_hippo_legs_entries(N):
    A, B = hippo_legs(N)
    for n in range(N):
        assert B[n] == pytest.approx(math.sqrt(2 * n + 1))
        for k in range(N):
            want = -math.sqrt(2 * n + 1) * math.sqrt(2 * k + 1) if n > k else (-(n + 1) if n == k else 0.)
            assert A[n, k].item() == pytest.approx(want, abs=1e-12)


@pytest.mark.parametrize("N", [2, 8, 64])
def test_nplr_reconstruction(N):
    Lam, P, B, V = nplr_legs(N)
    A, B0 = hippo_legs(N)
    rec = V @ torch.diag(Lam) @ V.mH - torch.outer(P, P).to(C128)
    assert torch.allclose(rec, A.to(C128), atol=1e-9)
    assert torch.allclose(V.mH @ V, torch.eye(N, dtype=C128), atol=1e-9)
    assert torch.allclose(B, B0)
    assert (Lam[:N // 2].imag > 0).all() and torch.equal(Lam[N // 2:], Lam[:N // 2].conj())


def test_dplr_is_legs_in_eigenbasis():
    N = 16
    Lam, P, B = dplr_legs(N)
    V = nplr_legs(N)[3]
    A_eig = torch.diag(complete(Lam)) - torch.outer(complete(P), complete(P).conj())
    assert torch.allclose(V @ A_eig @ V.mH, hippo_legs(N)[0].to(C128), atol=1e-9)
    assert torch.allclose(V @ complete(B), hippo_legs(N)[1].to(C128), atol=1e-9)


@pytest.mark.parametrize("N", [0, 3, 7])
def test_odd_state_rejected(N):
    with pytest.raises(ValueError, match="even"): nplr_legs(N)


# ---------------------------------------------------------------- Cauchy kernel

def test_cauchy_matches_loop():
    v, z, w = crand(3, 5, seed=0), crand(7, seed=1), crand(5, seed=2)
    ref = torch.zeros(3, 7, dtype=C128)
    for r in range(3):
        for l in range(7):
            for n in range(5): ref[r, l] += v[r, n] / (z[l] - w[n])
    assert torch.allclose(cauchy(v, z, w), ref, atol=1e-12)
    assert cauchy(crand(2, 4, 3, 5), z, w).shape == (2, 4, 3, 7)
    with pytest.raises(ValueError): cauchy(crand(5), z, w)
    with pytest.raises(ValueError): cauchy(crand(3, 4), z, w)


# ---------------------------------------------------------------- S4D

@pytest.mark.parametrize("L", [1, 5, 16, 37])
def test_diag_kernel_vs_dense(L):
    torch.manual_seed(0)
    H, N2, c = 3, 4, 2
    Lam = torch.complex(-torch.rand(H, N2, dtype=torch.float64) - .1, 5 * torch.randn(H, N2, dtype=torch.float64))
    B, C, dt = crand(H, N2), crand(c, H, N2), .05 + .2 * torch.rand(H, dtype=torch.float64)
    assert torch.allclose(diag_kernel(Lam, B, C, dt, L), naive_diag(Lam, B, C, dt, L), atol=1e-10)


@pytest.mark.parametrize("init", DIAG_INITS)
def test_s4d_module_vs_dense(init):
    torch.manual_seed(1)
    m = S4DKernel(4, 40, d_state=8, channels=2, init=init)
    with torch.no_grad():
        K32 = m()
        m.double()
        ref = naive_diag(torch.complex(-m.log_A_real.exp(), m.A_imag), torch.view_as_complex(m.B),
                         torch.view_as_complex(m.C), m.log_dt.exp(), 40)
        assert torch.allclose(m(), ref, atol=1e-9)
    assert K32.dtype == torch.float32 and K32.shape == (2, 4, 40)
    assert (K32.double() - ref).abs().max() <= 1e-4 * ref.abs().max()


def test_diag_init_values():
    assert torch.allclose(diag_init(8, 'lin')[0].imag, math.pi * torch.arange(4, dtype=torch.float64))
    n = torch.arange(4, dtype=torch.float64)
    assert torch.allclose(diag_init(8, 'inv')[0].imag, 8 / math.pi * (8 / (2 * n + 1) - 1))
    assert torch.allclose(diag_init(8, 'legs')[0], dplr_legs(8)[0])
    for init in DIAG_INITS: assert (diag_init(8, init)[0].real == -0.5).all()


# ---------------------------------------------------------------- S4

@pytest.mark.parametrize("L", [1, 2, 7, 16, 33])
def test_dplr_kernel_vs_dense(L):
    torch.manual_seed(L)
    H, N2, c = 3, 4, 2
    Lam = torch.complex(-torch.rand(H, N2, dtype=torch.float64) - .1, 3 * torch.randn(H, N2, dtype=torch.float64))
    P, B, Ct, dt = crand(H, N2), crand(H, N2), crand(c, H, N2), .01 + .5 * torch.rand(H, dtype=torch.float64)
    ref = naive_dplr(Lam, P, B, Ct, dt, L)
    assert torch.allclose(dplr_kernel(Lam, P, B, Ct, dt, L), ref, atol=1e-10 * (1 + ref.abs().max()))


@pytest.mark.parametrize("L", [63, 64])
def test_s4_module_vs_dense(L):
    torch.manual_seed(2)
    m = S4Kernel(4, L, d_state=8, channels=2, dt_min=1e-2, dt_max=.5)
    with torch.no_grad():
        K32 = m()
        m.double()
        ref = naive_dplr(*m.ssm_params(), L)
        K64 = m()
    scale = ref.abs().max()
    assert (K64 - ref).abs().max() <= 1e-6 * scale
    assert K32.dtype == torch.float32 and K32.shape == (2, 4, L)
    assert (K32.double() - ref).abs().max() <= 1e-4 * scale


def test_s4_init_is_legs_and_c_is_recovered():
    N = 8
    torch.manual_seed(3)
    m = S4Kernel(2, 16, d_state=N, channels=1)
    torch.manual_seed(3); log_dt_init(2); C0 = torch.randn(1, 2, N // 2, dtype=C128)   # replay __init__'s RNG
    Abar, Bbar, C = m.dense_ssm()
    assert torch.allclose(C[..., :N // 2], C0, atol=1e-5)
    assert torch.allclose(C[..., N // 2:], C0.conj(), atol=1e-5)
    Lam, P, B, _, _ = (x.to(C128) for x in m.ssm_params())
    A = torch.diag_embed(complete(Lam)) - complete(P).unsqueeze(-1) * complete(P).conj().unsqueeze(-2)
    V = nplr_legs(N)[3]
    assert torch.allclose(V @ A @ V.mH, hippo_legs(N)[0].to(C128).expand(2, N, N), atol=1e-5)


def test_s4_contraction_and_fact1_bound():
    torch.manual_seed(0)
    m = S4Kernel(8, 256, d_state=16)
    with torch.no_grad():
        for p in [m.P, m.B, m.A_imag]: p.add_(torch.randn_like(p))
        m.log_A_real.add_(2 * torch.randn_like(m.log_A_real))
        m.double()
        K = m()
    Abar, Bbar, C = m.dense_ssm()
    nA = torch.linalg.matrix_norm(Abar, ord=2)
    assert (nA < 1).all()
    k = torch.arange(256, dtype=torch.float64)
    bound = C.norm(dim=-1)[..., None] * nA[:, None] ** k * Bbar.norm(dim=-1)[:, None]
    assert (K.abs() <= bound * (1 + 1e-6) + 1e-10).all()


def test_dplr_discretize_matches_bilinear():
    torch.manual_seed(0)
    Lam = torch.complex(-torch.rand(2, 3, dtype=torch.float64), torch.randn(2, 3, dtype=torch.float64))
    P, B, dt = crand(2, 3), crand(2, 3), torch.tensor([.1, .3], dtype=torch.float64)
    Abar, Bbar = dplr_discretize(Lam, P, B, dt)
    for h in range(2):
        p = complete(P[h]); A = torch.diag(complete(Lam[h])) - torch.outer(p, p.conj())
        M = torch.eye(6, dtype=C128) - dt[h] / 2 * A
        assert torch.allclose(M @ Abar[h], torch.eye(6, dtype=C128) + dt[h] / 2 * A, atol=1e-12)
        assert torch.allclose(M @ Bbar[h], dt[h] * complete(B[h]), atol=1e-12)


# ---------------------------------------------------------------- module protocol, parameters, errors

@pytest.mark.parametrize("cls", [S4Kernel, S4DKernel])
def test_protocol_and_prefix(cls):
    torch.manual_seed(0)
    m = cls(6, 50, d_state=8, channels=3)
    with torch.no_grad():
        K = m()
        assert K.shape == (3, 6, 50) and K.dtype == torch.float32
        assert torch.allclose(m(20), K[..., :20], atol=1e-5)
        assert m(50).shape == (3, 6, 50)


@pytest.mark.parametrize("cls", [S4Kernel, S4DKernel])
def test_gradients_finite(cls):
    m = cls(4, 64, d_state=8, channels=2)
    (m() ** 2).sum().backward()
    for n, p in m.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, n


@pytest.mark.parametrize("cls,per_feature,tagged", [
    (S4Kernel, lambda N: 4 * N + 1, {'log_dt', 'log_A_real', 'A_imag', 'P', 'B'}),
    (S4DKernel, lambda N: 3 * N + 1, {'log_dt', 'log_A_real', 'A_imag', 'B'})])
def test_parameters(cls, per_feature, tagged):
    assert nparams(cls(8, 16, d_state=16)) == nparams(cls(8, 100_000, d_state=16)) == 8 * per_feature(16)
    m = cls(8, 16, d_state=16, lr=1e-3)
    assert {n for n, p in m.named_parameters() if hasattr(p, '_optim')} == tagged
    for n in tagged: assert getattr(m, n)._optim == {'lr': 1e-3, 'weight_decay': 0.0}
    assert not any(hasattr(p, '_optim') for p in cls(8, 16, d_state=16).parameters())


@pytest.mark.parametrize("cls", [S4Kernel, S4DKernel])
def test_errors(cls):
    m = cls(4, 32, d_state=8)
    with pytest.raises(ValueError, match="exceeds l_max"): m(33)
    with pytest.raises(ValueError, match="positive"): m(0)
    with pytest.raises(TypeError, match="int"): m(3.0)
    with pytest.raises(ValueError, match="even"): cls(4, 32, d_state=7)
    with pytest.raises(ValueError, match="d_model"): cls(0, 32)
    with pytest.raises(ValueError, match="l_max"): cls(4, 0)
    with pytest.raises(ValueError, match="channels"): cls(4, 32, channels=0)
    with pytest.raises(ValueError, match="dt_min"): cls(4, 32, dt_min=.1, dt_max=.01)


def test_bad_init_name():
    with pytest.raises(ValueError, match="unknown init"): S4DKernel(4, 32, init='hippo')


def test_register_ssm_param():
    m = torch.nn.Module()
    p = register_ssm_param(m, 'x', torch.ones(3, dtype=C128), lr=1e-2)
    assert m.x is p and p.shape == (3, 2) and p.dtype == torch.float32
    assert p._optim == {'lr': 1e-2, 'weight_decay': 0.0}


# ---------------------------------------------------------------- helpers

def test_tail_envelope():
    K = torch.tensor([1., -3., 2., .5, -.1])
    assert torch.equal(tail_envelope(K), torch.tensor([3., 3., 2., .5, .1]))


def test_kernel_param_counts():
    state = torch.random.get_rng_state()
    rows = kernel_param_counts()
    assert torch.equal(state, torch.random.get_rng_state())          # no RNG side effects
    by_L = {r['L']: r for r in rows}
    assert by_L[16384]['naive_per_layer'] == 4_194_304               # the paper's 4M example
    assert {r['s4_per_channel'] for r in rows} == {257} and {r['s4d_per_channel'] for r in rows} == {193}
    assert [r['sgconv_scales'] for r in rows] == [5, 6, 7, 8, 9]
    for r in rows:
        assert r['sgconv_per_layer'] == r['sgconv_per_channel'] * 256 == r['sgconv_scales'] * 64 * 256
        assert 64 * 2 ** (r['sgconv_scales'] - 1) >= r['L'] > 64 * 2 ** (r['sgconv_scales'] - 2)


def test_import_needs_no_pandas():
    import subprocess, sys
    code = "import sys; import sgconv.ssm; assert 'pandas' not in sys.modules and 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, '-c', code], check=True)


def test_numpy_ints_accepted():
    import numpy as np
    m = S4DKernel(np.int64(4), np.int64(32), d_state=np.int64(8))
    assert m(np.int64(16)).shape == (1, 4, 16)
    with pytest.raises(ValueError, match="kernel_dim"): kernel_param_counts([1024], kernel_dim=0)

"""GRL schedule values, the NWD formula and its gradient signs (head ascends, features descend)."""

import math

import numpy as np
import pytest
import torch

from facegen.trainer.daln import (daln_loss, gradient_reverse, grl_coefficient, nuclear_wasserstein_discrepancy,
                                  spatial_softmax)


def test_grl_schedule_values():
    assert grl_coefficient(0, 100) == 0.0
    assert grl_coefficient(0, 100, lo=0.1, hi=1.0) == pytest.approx(0.1)
    assert grl_coefficient(100, 100, alpha=10) == pytest.approx(2 / (1 + math.exp(-10)) - 1)
    assert grl_coefficient(50, 100, lo=0.1, hi=1.0, alpha=10) == pytest.approx(1.8 / (1 + math.exp(-5)) - 0.9 + 0.1)
    assert grl_coefficient(10 ** 6, 100) == pytest.approx(1.0)
    vals = [grl_coefficient(i, 100) for i in range(0, 101, 10)]
    assert all(a < b for a, b in zip(vals, vals[1:]))


def test_gradient_reverse():
    x = torch.ones(3, requires_grad=True)
    (gradient_reverse(x, 0.5) * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert torch.allclose(x.grad, torch.tensor([-0.5, -1.0, -1.5]))


def test_nwd_formula_matches_numpy():
    g = torch.Generator().manual_seed(0)
    hs, ht = torch.randn(4, 3, 5, 5, generator=g), torch.randn(4, 3, 5, 5, generator=g)
    ps, pt = spatial_softmax(hs, 0.5), spatial_softmax(ht, 0.5)
    assert ps.shape == (3, 4, 25) and torch.allclose(ps.sum(-1), torch.ones(3, 4))
    got = float(nuclear_wasserstein_discrepancy(ps, pt))
    want = np.mean([(np.linalg.norm(ps[k].numpy(), "nuc") - np.linalg.norm(pt[k].numpy(), "nuc")) / 4 for k in range(3)])
    assert got == pytest.approx(want, rel=1e-5)


def _nwd(head, fs, ft, temperature):
    with torch.no_grad():
        return float(nuclear_wasserstein_discrepancy(spatial_softmax(head(fs), temperature),
                                                     spatial_softmax(head(ft), temperature)))


def test_gradient_signs_head_ascends_features_descend():
    torch.manual_seed(0)
    head = torch.nn.Conv2d(8, 3, 1)
    fs = torch.randn(4, 8, 6, 6, requires_grad=True)
    ft = torch.randn(4, 8, 6, 6, requires_grad=True)
    t = 0.5
    before = _nwd(head, fs, ft, t)
    loss, nwd = daln_loss(head, fs, ft, coeff=0.7, temperature=t)
    assert float(loss.detach()) == pytest.approx(-float(nwd)) and float(nwd) == pytest.approx(before, rel=1e-5)
    loss.backward()
    # the features' gradient is +coeff * dNWD/dfeatures (the GRL flips -NWD back), so descending it lowers NWD
    fs2, ft2 = fs.detach().clone().requires_grad_(), ft.detach().clone().requires_grad_()
    plain = nuclear_wasserstein_discrepancy(spatial_softmax(head(fs2), t), spatial_softmax(head(ft2), t))
    gs, gt = torch.autograd.grad(plain, [fs2, ft2])
    assert torch.allclose(fs.grad, 0.7 * gs, atol=1e-6) and torch.allclose(ft.grad, 0.7 * gt, atol=1e-6)
    lr = 0.05
    with torch.no_grad():
        assert _nwd(head, fs - lr * fs.grad, ft - lr * ft.grad, t) < before
        # the head's gradient is -dNWD/dhead: a descent step on the loss raises NWD
        w, b = head.weight.clone(), head.bias.clone()
        head.weight -= lr * head.weight.grad
        head.bias -= lr * head.bias.grad
        assert _nwd(head, fs, ft, t) > before
        head.weight.copy_(w)
        head.bias.copy_(b)

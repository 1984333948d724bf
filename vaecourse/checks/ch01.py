"""Checks for the exercises of chapter 1 (autoencoders and latent variables)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ._verdict import Case, gen, run_check

__all__ = ["check_bernoulli_nll", "check_fit_gaussian"]


def _bernoulli_nll(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """Reference: :math:`-\\log p(x \\mid \\ell)` per image in nats, ``(B,)``."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


def _fit_gaussian(codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference: the sample mean ``(Dz,)`` and the unbiased sample covariance ``(Dz, Dz)``."""
    mean = codes.mean(0)
    centred = codes - mean  # (N, Dz)
    return mean, centred.T @ centred / (codes.shape[0] - 1)


def check_bernoulli_nll(fn) -> bool:
    """Check ``fn(x, logits)``: the Bernoulli negative log-likelihood per image, stable for large logits.

    >>> check_bernoulli_nll(_bernoulli_nll)
    ✓ bernoulli_nll: correct on 3 inputs, gradients included
    True
    """
    g = gen(0)
    x = torch.bernoulli(torch.full((5, 784), 0.2), generator=g)
    logits = torch.randn(5, 784, generator=g).mul(3).requires_grad_()
    saturated = (
        torch.randn(4, 10, generator=g) * 200
    ).requires_grad_()  # |logits| in the hundreds
    x_sat = torch.bernoulli(torch.full((4, 10), 0.5), generator=g)
    x64 = torch.bernoulli(torch.full((3, 6), 0.5), generator=g).double()
    cases = [
        Case("a batch of images and moderate logits", (x, logits)),
        Case(
            "logits in the hundreds (a naive log(sigmoid) gives inf)",
            (x_sat, saturated),
        ),
        Case(
            "float64 inputs",
            (x64, torch.randn(3, 6, generator=g, dtype=torch.float64).requires_grad_()),
        ),
    ]
    return run_check(
        "bernoulli_nll",
        fn,
        _bernoulli_nll,
        cases,
        atol=1e-4,
        rtol=1e-5,
        check_grad=True,
    )


def check_fit_gaussian(fn) -> bool:
    """Check ``fn(codes)``: the mean ``(Dz,)`` and unbiased covariance ``(Dz, Dz)`` of codes ``(N, Dz)``.

    >>> check_fit_gaussian(_fit_gaussian)
    ✓ fit_gaussian: correct on 3 inputs
    True
    """
    g = gen(1)
    mixing = torch.tensor([[2.0, 0.0], [1.5, 0.5]])
    cases = [
        Case(
            "correlated 2-D codes",
            (torch.randn(500, 2, generator=g) @ mixing + torch.tensor([3.0, -1.0]),),
        ),
        Case("5-D codes", (torch.randn(50, 5, generator=g),)),
        Case(
            "three float64 codes",
            (torch.randn(3, 2, generator=g, dtype=torch.float64),),
        ),
    ]
    return run_check("fit_gaussian", fn, _fit_gaussian, cases, atol=1e-5, rtol=1e-4)

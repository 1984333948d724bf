"""Checks for the exercises of chapter 2 (the evidence lower bound)."""

from __future__ import annotations

import math

import torch

from ..ppca import ProbabilisticPCA
from ._verdict import Case, gen, run_check

__all__ = ["check_naive_log_marginal", "check_ppca_posterior"]


def _naive_log_marginal(log_px_z: torch.Tensor) -> torch.Tensor:
    """Reference: :math:`\\log \\frac1m \\sum_i p(x \\mid z_i)` from ``(m, B)`` log-likelihoods, ``(B,)``."""
    return torch.logsumexp(log_px_z, dim=0) - math.log(log_px_z.shape[0])


def check_naive_log_marginal(fn) -> bool:
    """Check ``fn(log_px_z)``: the log of the mean of the likelihoods, computed without underflow.

    >>> check_naive_log_marginal(_naive_log_marginal)
    ✓ naive_log_marginal: correct on 4 inputs, gradients included
    True
    """
    g = gen(2)
    cases = [
        Case(
            "log-likelihoods near zero",
            (torch.randn(10, 3, generator=g).requires_grad_(),),
        ),
        Case(
            "log-likelihoods of an image, around -500 nats (exp underflows to 0)",
            ((torch.randn(1000, 4, generator=g) * 30 - 500).requires_grad_(),),
        ),
        Case("a single sample (m = 1)", (torch.tensor([[-120.0, -90.0]]),)),
        Case(
            "float64 values",
            (torch.randn(7, 2, generator=g, dtype=torch.float64) * 50 - 300,),
        ),
    ]
    return run_check(
        "naive_log_marginal",
        fn,
        _naive_log_marginal,
        cases,
        atol=1e-4,
        rtol=1e-6,
        check_grad=True,
    )


def _ppca_posterior(W: torch.Tensor, b: torch.Tensor, s: float, x: torch.Tensor):
    """Reference: :meth:`vaecourse.ProbabilisticPCA.posterior` of the model with parameters ``(W, b, s)``."""
    model = ProbabilisticPCA(
        W.shape[0], W.shape[1], noise_scale=s, dtype=str(W.dtype).removeprefix("torch.")
    )
    with torch.no_grad():
        model.W.copy_(W)
        model.b.copy_(b)
        return model.posterior(x)


def check_ppca_posterior(fn) -> bool:
    """Check ``fn(W, b, s, x)``: the exact posterior of pPCA, ``(mean (B, Dz), covariance (Dz, Dz))``,
    against :meth:`vaecourse.ProbabilisticPCA.posterior`.

    >>> check_ppca_posterior(_ppca_posterior)
    ✓ ppca_posterior: correct on 3 inputs
    True
    """
    cases = []
    for seed, (x_dim, z_dim, s) in enumerate([(5, 2, 0.5), (12, 3, 1.3), (4, 4, 0.1)]):
        g = gen(10 + seed)
        W = torch.randn(x_dim, z_dim, generator=g, dtype=torch.float64)
        b = torch.randn(x_dim, generator=g, dtype=torch.float64)
        x = torch.randn(6, x_dim, generator=g, dtype=torch.float64) * 2
        cases.append(
            Case(f"pPCA with D = {x_dim}, Dz = {z_dim}, s = {s}", (W, b, s, x))
        )
    return run_check("ppca_posterior", fn, _ppca_posterior, cases, atol=1e-9, rtol=1e-7)

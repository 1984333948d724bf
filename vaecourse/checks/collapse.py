"""Checks for the exercises of the chapter on posterior collapse and learned priors."""

from __future__ import annotations

import torch
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

from ..gaussian_vae import free_bits_kl
from ._verdict import Case, Failed, call, compare, gen, run_check, verdict

__all__ = ["check_active_dimensions", "check_free_bits_kl", "check_log_mixture_prior"]


def _means_cases() -> list[Case]:
    """Posterior means ``(N, Dz)`` with dimensions of clearly different spread."""
    g = gen(21)
    spread = torch.tensor([1.0, 0.0, 0.03, 0.3, 1e-3, 2.0])  # variances 1, 0, 1e-3, ...
    mu = torch.randn(500, 6, generator=g) * spread + torch.randn(6, generator=g)
    small = torch.randn(40, 3, generator=g) * torch.tensor([0.05, 0.5, 5.0])
    return [
        Case("500 images, 6 dimensions, threshold 0.01", (mu, 0.01)),
        Case("the same, threshold 0.5", (mu, 0.5)),
        Case("40 images, 3 dimensions, threshold 0.01", (small, 0.01)),
    ]


@verdict("active_dimensions")
def check_active_dimensions(fn) -> str:
    """Check ``fn(mu, threshold)``: the ``(Dz,)`` booleans :math:`\\mathrm{Var}_n\\, \\mu_{nj} > \\delta`.

    >>> check_active_dimensions(lambda mu, threshold: mu.var(0) > threshold)
    ✓ active_dimensions: correct on 3 inputs
    True
    """
    cases = _means_cases()
    for case in cases:
        expected = case.args[0].var(0) > case.args[1]
        actual = call(fn, case.args, label=case.label)
        if isinstance(actual, torch.Tensor) and actual.is_floating_point():
            bad = (
                int((~torch.isfinite(actual)).sum())
                if actual.device.type != "meta"
                else 0
            )
            if bad:
                raise Failed(
                    f"on {case.label}: the output has {bad} NaN or inf entries"
                )
        diff = compare(actual, expected)
        if diff:
            raise Failed(f"on {case.label}: {diff}")
    return f"correct on {len(cases)} inputs"


def _kl_cases() -> list[Case]:
    g = gen(22)
    # no dimension's batch mean equals kappa: at that kink, clamp, maximum, where and relu
    # give different (and equally right) subgradients
    kl = torch.rand(16, 5, generator=g) * torch.tensor([0.02, 0.3, 1.0, 3.0, 0.005])
    return [
        Case("a batch of 16, 5 dimensions, kappa = 0.25", (kl.requires_grad_(), 0.25)),
        Case("the same, kappa = 0", (kl.detach().clone().requires_grad_(), 0.0)),
        Case(
            "a batch of 1, kappa = 2",
            ((torch.rand(1, 4, generator=g) * 4).requires_grad_(), 2.0),
        ),
    ]


def check_free_bits_kl(fn) -> bool:
    """Check ``fn(kl_per_dim, kappa)``: :math:`\\sum_j \\max(\\kappa, \\frac1B \\sum_b \\mathrm{KL}_{bj})`,
    a scalar, and its gradient (none for the dimensions below :math:`\\kappa`).

    >>> check_free_bits_kl(free_bits_kl)
    ✓ free_bits_kl: correct on 3 inputs, gradients included
    True
    """
    return run_check(
        "free_bits_kl", fn, free_bits_kl, _kl_cases(), atol=1e-5, rtol=1e-5,
        check_grad=True,
    )  # fmt: skip


def _log_mixture_prior(z, logits, means, log_scales):
    """Reference: the log-density of a diagonal Gaussian mixture, by ``torch.distributions``."""
    components = Independent(Normal(means, log_scales.exp()), 1)
    return MixtureSameFamily(Categorical(logits=logits), components).log_prob(z)


def _mixture_cases() -> list[Case]:
    g = gen(23)
    cases = []
    for label, c, dz, shape, scale in (
        ("3 components in 2-D, points (5, 2)", 3, 2, (5,), 2.0),
        ("10 components in 4-D, points (3, 7, 4)", 10, 4, (3, 7), 2.0),
        ("points far from every component, where exp() underflows", 4, 2, (6,), 60.0),
    ):
        z = torch.randn(*shape, dz, generator=g) * scale
        logits = torch.randn(c, generator=g).requires_grad_()
        means = torch.randn(c, dz, generator=g).requires_grad_()
        log_scales = (0.3 * torch.randn(c, dz, generator=g)).requires_grad_()
        cases.append(Case(label, (z, logits, means, log_scales)))
    return cases


def check_log_mixture_prior(fn) -> bool:
    """Check ``fn(z, logits, means, log_scales)``: the mixture prior's log-density at ``z``
    ``(..., Dz)``, shape ``(...)``, with gradients for the mixture's parameters.

    >>> check_log_mixture_prior(_log_mixture_prior)
    ✓ log_mixture_prior: correct on 3 inputs, gradients included
    True
    """
    return run_check(
        "log_mixture_prior", fn, _log_mixture_prior, _mixture_cases(), atol=1e-4,
        rtol=1e-5, check_grad=True,
    )  # fmt: skip

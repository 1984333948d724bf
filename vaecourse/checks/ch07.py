"""Checks for the exercises of chapter 10 (the autoencoder with a Gaussian mixture)."""

from __future__ import annotations

import torch

from ..ae_gmm import gmm_log_density
from ._verdict import Case, Failed, call, expect_tensor, gen, run_check, verdict

__all__ = ["check_sample_mixture", "check_mixture_log_density"]


def _mixture(num_components: int, seed: int, dtype=torch.float32):
    """A 2-D mixture with well separated, correlated components and unequal weights."""
    g = gen(seed)
    weights = torch.rand(num_components, generator=g, dtype=dtype) + 0.2
    weights = weights / weights.sum()
    means = 6 * torch.randn(num_components, 2, generator=g, dtype=dtype)
    a = torch.randn(num_components, 2, 2, generator=g, dtype=dtype)
    covariances = a @ a.transpose(-1, -2) + 0.1 * torch.eye(2, dtype=dtype)
    return weights, means, covariances


def _mixture_moments(weights, means, covariances):
    mean = (weights[:, None] * means).sum(0)
    centred = means - mean
    cov = (
        weights[:, None, None]
        * (covariances + centred[:, :, None] * centred[:, None, :])
    ).sum(0)
    return mean, cov


@verdict("sample_mixture")
def check_sample_mixture(fn, n: int = 200_000):
    """Check ``fn(weights, means, covariances, n, generator)``: ``n`` draws ``(n, 2)`` from a Gaussian mixture.

    The draws are random, so the check is statistical: the sample mean and covariance
    must match the mixture's within a few standard errors, and the draws nearest each
    component must come in proportion to its weight.

    >>> def reference(w, m, c, n, generator=None):
    ...     k = torch.multinomial(w, n, replacement=True, generator=generator)
    ...     return m[k] + (torch.linalg.cholesky(c)[k] @ torch.randn(n, 2, 1, generator=generator)).squeeze(-1)
    >>> check_sample_mixture(reference)
    ✓ sample_mixture: mean, covariance and component frequencies match the mixture
    True
    """
    weights, means, covariances = _mixture(3, seed=0)
    z = call(fn, (weights, means, covariances, n, gen(1)))
    z = expect_tensor(z, (n, 2), what="sample").detach().to(weights.dtype)
    mean, cov = _mixture_moments(weights, means, covariances)
    mean_error = (z.mean(0) - mean).abs().max().item()
    tolerance = 5 * cov.diagonal().sqrt().max().item() / n**0.5
    if mean_error > tolerance:
        raise Failed(
            f"the sample mean is off by {mean_error:.3g} (tolerance {tolerance:.2g}); "
            "are the components drawn with the right weights?"
        )
    cov_error = ((torch.cov(z.T) - cov).abs().max() / cov.abs().max()).item()
    if cov_error > 0.02:
        raise Failed(
            f"the sample covariance is off by {cov_error:.1%} of its scale; does each draw "
            "use the Cholesky factor of its own component's covariance?"
        )
    # share of draws whose most responsible component is c, against the same share for reference draws
    mixture = torch.distributions.MultivariateNormal(
        means, covariance_matrix=covariances
    )
    c = torch.multinomial(weights, n, replacement=True, generator=gen(2))
    reference = means[c] + (
        torch.linalg.cholesky(covariances)[c] @ torch.randn(n, 2, 1, generator=gen(2))
    ).squeeze(-1)
    shares = [
        torch.bincount(
            (mixture.log_prob(draws[:, None, :]) + weights.log()).argmax(-1),
            minlength=3,
        ).to(weights.dtype)
        / n
        for draws in (z, reference)
    ]
    if (shares[0] - shares[1]).abs().max().item() > 0.01:
        raise Failed(
            f"the draws fall in the components with frequencies "
            f"{[round(v, 3) for v in shares[0].tolist()]}, expected about "
            f"{[round(v, 3) for v in shares[1].tolist()]}"
        )
    return "mean, covariance and component frequencies match the mixture"


def _mixture_log_density(z, weights, means, covariances):
    """Reference: through the Cholesky factors (an independent route from MultivariateNormal)."""
    return gmm_log_density(
        z, torch.log(weights), means, torch.linalg.cholesky(covariances)
    )


def check_mixture_log_density(fn) -> bool:
    """Check ``fn(z, weights, means, covariances)``: :math:`\\log p(z)` under a Gaussian mixture, ``(N,)``.

    >>> check_mixture_log_density(_mixture_log_density)
    ✓ mixture_log_density: correct on 3 inputs
    True
    """
    w3, m3, c3 = _mixture(3, seed=2, dtype=torch.float64)
    w30, m30, c30 = _mixture(30, seed=3, dtype=torch.float64)
    cases = [
        Case(
            "codes near a 3-component mixture",
            (torch.randn(50, 2, generator=gen(4), dtype=torch.float64) * 5, w3, m3, c3),
        ),
        Case(
            "30 components, as in the report",
            (
                torch.randn(20, 2, generator=gen(5), dtype=torch.float64) * 5,
                w30,
                m30,
                c30,
            ),
        ),
        Case(
            "codes far from every component (exp underflows)",
            (
                torch.tensor([[300.0, -400.0], [1e3, 1e3]], dtype=torch.float64),
                w3,
                m3,
                c3,
            ),
        ),
    ]
    return run_check(
        "mixture_log_density", fn, _mixture_log_density, cases, atol=1e-6, rtol=1e-8
    )

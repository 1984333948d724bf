"""Checks for the exercises of the chapter on the importance-weighted bound."""

from __future__ import annotations

import torch

from ..densities import log_bernoulli, log_mean_exp, log_normal, log_standard_normal
from ..gaussian_vae import GaussianVAE
from ._guard import clone
from ._verdict import Case, Failed, call, compare, gen, run_check, verdict

__all__ = ["check_iw_bound", "check_log_weights", "check_dreg_weights"]


def _log_w_cases(requires_grad: bool) -> list[Case]:
    g = gen(12)
    return [
        Case(
            "log-weights near -100 nats, K = 8",
            (
                (-100 + 5 * torch.randn(8, 4, generator=g)).requires_grad_(
                    requires_grad
                ),
            ),
        ),
        Case(
            "a single sample, K = 1",
            (torch.randn(1, 3, generator=g).requires_grad_(requires_grad),),
        ),
        Case(
            "log-weights near -1000 that underflow exp()",
            (
                torch.tensor(
                    [[-1000.0, -1010.0], [-1001.0, -2000.0], [-1003.0, -1005.0]]
                ).requires_grad_(requires_grad),
            ),
        ),
    ]


def check_iw_bound(fn) -> bool:
    """Check ``fn(log_w)``: :math:`\\log \\frac1K \\sum_k e^{\\log w_k}` over the first dimension of a
    ``(K, B)`` tensor, values and gradients, on log-weights whose exponentials underflow.

    >>> check_iw_bound(lambda log_w: log_mean_exp(log_w, dim=0))
    ✓ iw_bound: correct on 3 inputs, gradients included
    True
    """
    return run_check(
        "iw_bound",
        fn,
        lambda log_w: log_mean_exp(log_w, dim=0),
        _log_w_cases(True),
        atol=1e-4,
        rtol=1e-5,
        check_grad=True,
    )


def _log_weights(
    model: GaussianVAE, x: torch.Tensor, eps: torch.Tensor
) -> torch.Tensor:
    """Reference: :math:`\\log p(x \\mid z_k) + \\log p(z_k) - \\log q(z_k \\mid x)` with
    :math:`z_k = \\mu + \\sigma \\varepsilon_k`, ``(K, B)``."""
    mu, log_sigma = model.encode(x)  # (B, Dz) each
    z = mu + torch.exp(log_sigma) * eps  # (K, B, Dz)
    return (
        log_bernoulli(x, model.decode(z))
        + log_standard_normal(z)
        - log_normal(z, mu, log_sigma)
    )


def check_log_weights(fn) -> bool:
    """Check ``fn(model, x, eps)``: the ``(K, B)`` log-weights of a :class:`GaussianVAE` for noise
    ``eps`` of shape ``(K, B, Dz)``, gradients with respect to the noise included.

    >>> check_log_weights(_log_weights)
    ✓ log_weights: correct on 2 inputs, gradients included
    True
    """
    with torch.random.fork_rng():  # seeded models, the caller's random state untouched
        torch.manual_seed(13)
        small = GaussianVAE(x_dim=12, z_dim=3, hidden=(8,))
        larger = GaussianVAE(x_dim=784, z_dim=20, hidden=(64,))
    g = gen(13)
    cases = []
    for label, model, k in (
        ("a small VAE, K = 1", small, 1),
        ("a 784-64-20 VAE, K = 5", larger, 5),
    ):
        x = torch.bernoulli(torch.full((4, model.x_dim), 0.3), generator=g)
        eps = torch.randn(k, 4, model.z_dim, generator=g).requires_grad_()
        cases.append(Case(label, (model, x, eps)))
    return run_check(
        "log_weights", fn, _log_weights, cases, atol=1e-3, rtol=1e-5, check_grad=True
    )


def _dreg_weights(log_w: torch.Tensor) -> torch.Tensor:
    """Reference: the squared normalised weights, detached, ``(K, B)``."""
    return torch.softmax(log_w.detach(), dim=0) ** 2


@verdict("dreg_weights")
def check_dreg_weights(fn) -> str:
    """Check ``fn(log_w)``: DReG's weights :math:`\\tilde w_k^2`, the squared normalised weights
    :math:`\\tilde w_k = w_k / \\sum_j w_j` of a ``(K, B)`` tensor of log-weights, detached.

    The log-weights of the inputs require gradients, and no gradient may flow back to them.
    The tolerance allows for float32 rounding of log-weights near -1000.

    >>> check_dreg_weights(_dreg_weights)
    ✓ dreg_weights: correct on 3 inputs, detached
    True
    >>> check_dreg_weights(lambda log_w: torch.softmax(log_w, dim=0) ** 2)
    ✗ dreg_weights: on log-weights near -100 nats, K = 8: gradients flow through the weights; detach them (they multiply gradients, they are not differentiated)
    False
    """
    cases = _log_w_cases(True)
    for case in cases:
        expected = _dreg_weights(*case.args)
        actual = call(fn, clone(case.args), label=case.label)
        diff = compare(actual, expected, atol=1e-6, rtol=1e-4)
        if diff:
            raise Failed(f"on {case.label}: {diff}")
        if actual.requires_grad:
            raise Failed(
                f"on {case.label}: gradients flow through the weights; detach them "
                "(they multiply gradients, they are not differentiated)"
            )
    return f"correct on {len(cases)} inputs, detached"

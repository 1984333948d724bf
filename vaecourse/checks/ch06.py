"""Checks for the exercises of chapter 9 (sigmoid belief networks)."""

from __future__ import annotations

import torch

from ..densities import log_bernoulli
from ..sbn import all_binary_states, mean_field_gradient
from ._verdict import Case, gen, run_check

__all__ = ["check_sbn_log_likelihood", "check_mean_field_gradient"]


def _sbn_log_likelihood(x, prior_logits, weight, bias):
    """Reference: log p(x) of a linear SBN by enumerating the 2^Dz latent states, ``(B,)``."""
    z = all_binary_states(prior_logits.shape[0], dtype=x.dtype)  # (S, Dz)
    logits = z @ weight.T + bias  # (S, D)
    log_joint = log_bernoulli(z, prior_logits)[:, None] + log_bernoulli(
        x, logits[:, None, :]
    )  # (S, B)
    return torch.logsumexp(log_joint, dim=0)


def _linear_sbn(batch, x_dim, z_dim, seed, dtype=torch.float64):
    g = gen(seed)
    x = torch.bernoulli(torch.full((batch, x_dim), 0.3, dtype=dtype), generator=g)
    prior_logits = torch.randn(z_dim, generator=g, dtype=dtype)
    weight = 2 * torch.randn(x_dim, z_dim, generator=g, dtype=dtype)
    bias = torch.randn(x_dim, generator=g, dtype=dtype)
    return x, prior_logits, weight, bias


def check_sbn_log_likelihood(fn) -> bool:
    """Check ``fn(x, prior_logits, weight, bias)``: exact :math:`\\log p(x)` of a linear SBN, ``(B,)``.

    >>> check_sbn_log_likelihood(_sbn_log_likelihood)
    ✓ sbn_log_likelihood: correct on 3 inputs
    True
    """
    cases = [
        Case(
            "a batch of 5 images of 8 pixels, 3 latents", _linear_sbn(5, 8, 3, seed=0)
        ),
        Case("one image of 784 pixels, 6 latents", _linear_sbn(1, 784, 6, seed=1)),
        Case("20 images of 30 pixels, 10 latents", _linear_sbn(20, 30, 10, seed=2)),
    ]
    return run_check(
        "sbn_log_likelihood", fn, _sbn_log_likelihood, cases, atol=1e-8, rtol=1e-8
    )


def _mean_field_case(k, batch, z_dim, seed):
    g = gen(seed)
    q_logits = torch.randn(batch, z_dim, generator=g, dtype=torch.float64)
    z = torch.bernoulli(torch.sigmoid(q_logits).expand(k, batch, z_dim), generator=g)
    log_px_z = -100 + 10 * torch.randn(k, batch, generator=g, dtype=torch.float64)
    prior_logits = torch.randn(z_dim, generator=g, dtype=torch.float64)
    return log_px_z, z, q_logits, prior_logits


def check_mean_field_gradient(fn) -> bool:
    """Check ``fn(log_px_z, z, q_logits, prior_logits)``: the leave-one-out mean-field gradient, ``(B, Dz)``.

    >>> check_mean_field_gradient(mean_field_gradient)
    ✓ mean_field_gradient: correct on 3 inputs
    True
    """
    cases = [
        Case(
            "K = 2 samples of 3 latents for 4 images", _mean_field_case(2, 4, 3, seed=0)
        ),
        Case(
            "K = 5 samples of 16 latents for 10 images",
            _mean_field_case(5, 10, 16, seed=1),
        ),
        Case(
            "K = 20 samples of 1 latent for 1 image", _mean_field_case(20, 1, 1, seed=2)
        ),
    ]
    return run_check(
        "mean_field_gradient", fn, mean_field_gradient, cases, atol=1e-8, rtol=1e-6
    )

"""Checks for the exercises of chapter 7 (binary latents)."""

from __future__ import annotations

import torch

from ._verdict import Case, gen, run_check

__all__ = ["check_best_num_samples", "check_exact_gaps"]


def _best_num_samples(
    ks: torch.Tensor, estimator_variance: torch.Tensor, data_variance: float
) -> int:
    """Reference: the K whose gradient variance at a fixed number of decoder passes, (data + v(K)) K, is least."""
    cost = (
        data_variance + estimator_variance
    ) * ks  # variance x passes per example, up to the budget
    return int(ks[torch.argmin(cost)])


def check_best_num_samples(fn) -> bool:
    """Check ``fn(ks, estimator_variance, data_variance) -> int``: the best K under a fixed budget of decoder passes.

    >>> check_best_num_samples(_best_num_samples)
    ✓ best_num_samples: correct on 4 inputs
    True
    """
    g = gen(2)
    ks = torch.tensor([1, 2, 4, 8, 16, 32])
    leave_one_out_like = (
        50.0 / (ks - 0.5) ** 2
    )  # falls faster than 1/K: a baseline improving with K
    cases = [
        Case("plain averaging, v(K) = 10 / K, little data noise", (ks, 10.0 / ks, 0.1)),
        Case("v(K) = 40 / K^2 with data noise 2", (ks, 40.0 / ks.float() ** 2, 2.0)),
        Case(
            "a variance that falls faster than 1/K, small data noise",
            (ks, leave_one_out_like, 0.01),
        ),
        Case(
            "random decreasing variances",
            (ks, torch.sort(torch.rand(6, generator=g) * 20, descending=True)[0], 0.5),
        ),
    ]
    return run_check("best_num_samples", fn, _best_num_samples, cases)


def _exact_gaps(model, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Reference: exact log p(x) and exact ELBO of a small binary VAE, by enumerating its codes."""
    with torch.no_grad():
        return model.exact_log_likelihood(x), model.exact_elbo(x)


def _small_binary_vae(z_dim: int, seed: int):
    from ..bernoulli_vae import BernoulliVAE

    with torch.random.fork_rng():  # seeded weights, the caller's random state untouched
        torch.manual_seed(seed)
        model = BernoulliVAE(x_dim=12, z_dim=z_dim, hidden=(7,), num_samples=2)
    x = torch.bernoulli(torch.full((5, 12), 0.3), generator=gen(seed))
    return model, x


def check_exact_gaps(fn) -> bool:
    """Check ``fn(model, x) -> (log_px, elbo)``: both ``(B,)``, exact, by listing all 2^Dz codes.

    >>> check_exact_gaps(_exact_gaps)
    ✓ exact_gaps: correct on 3 inputs
    True
    """
    cases = [
        Case(f"a binary VAE with {d} latents and 12 pixels", _small_binary_vae(d, seed))
        for seed, d in enumerate((1, 3, 6))
    ]
    return run_check("exact_gaps", fn, _exact_gaps, cases, atol=1e-4)

"""Checks for the exercises of chapter 5 (binary latents)."""

from __future__ import annotations

import torch

from ._verdict import Case, gen, run_check

__all__ = ["check_best_num_samples"]


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

"""Checks for the exercises of the relaxations chapter (Gumbel-softmax and straight-through)."""

from __future__ import annotations

import torch

from ..estimators import straight_through
from ._verdict import Case, gen, run_check

__all__ = [
    "check_relaxed_bernoulli_sample",
    "check_relaxed_gradient_mean",
    "check_straight_through",
]


def _relaxed_bernoulli_sample(
    logits: torch.Tensor, u: torch.Tensor, temperature: float
) -> torch.Tensor:
    """Reference: sigma((logits + log u - log(1 - u)) / temperature)."""
    return torch.sigmoid((logits + torch.log(u) - torch.log1p(-u)) / temperature)


def check_relaxed_bernoulli_sample(fn) -> bool:
    """Check ``fn(logits, u, temperature)``: the relaxed Bernoulli sample for uniform noise ``u``, with gradients.

    >>> check_relaxed_bernoulli_sample(_relaxed_bernoulli_sample)
    ✓ relaxed_bernoulli_sample: correct on 3 inputs, gradients included
    True
    """
    g = gen(0)
    cases = [
        Case(
            "3 samples of a (2, 4) batch, temperature 1",
            (
                torch.randn(2, 4, generator=g, requires_grad=True),
                torch.rand(3, 2, 4, generator=g) * 0.98 + 0.01,
                1.0,
            ),
        ),
        Case(
            "temperature 0.1 (nearly binary)",
            (
                torch.randn(5, generator=g, requires_grad=True),
                torch.rand(5, generator=g) * 0.98 + 0.01,
                0.1,
            ),
        ),
        Case(
            "temperature 3, float64",
            (
                torch.randn(2, 3, generator=g, dtype=torch.float64, requires_grad=True),
                torch.rand(2, 3, generator=g, dtype=torch.float64) * 0.98 + 0.01,
                3.0,
            ),
        ),
    ]
    return run_check(
        "relaxed_bernoulli_sample",
        fn,
        _relaxed_bernoulli_sample,
        cases,
        atol=1e-5,
        check_grad=True,
    )


def check_straight_through(fn) -> bool:
    """Check ``fn(hard, soft)``: exactly ``hard`` forward, the gradient of ``soft`` backward.

    >>> check_straight_through(straight_through)
    ✓ straight_through: correct on 3 inputs, gradients included
    True
    """
    g = gen(1)
    cases = []
    for label, shape in (
        ("a (3, 4) batch", (3, 4)),
        ("K = 2 samples of (2, 5)", (2, 2, 5)),
        ("one value", (1,)),
    ):
        soft = torch.rand(*shape, generator=g)
        cases.append(Case(label, ((soft > 0.5).float(), soft.requires_grad_(True))))
    return run_check(
        "straight_through",
        fn,
        straight_through,
        cases,
        atol=0.0,
        rtol=0.0,
        check_grad=True,
    )


def _relaxed_gradient_mean(
    logit: float, temperature: float, a: float, num_points: int = 10_000
) -> torch.Tensor:
    """Reference: the midpoint rule over u of d/dlogit (z - a)^2 at z = sigma((logit + log u - log(1 - u)) / tau)."""
    u = (torch.arange(num_points, dtype=torch.float64) + 0.5) / num_points
    z = torch.sigmoid((logit + torch.log(u) - torch.log1p(-u)) / temperature)
    return (2 * (z - a) * z * (1 - z) / temperature).mean()  # f'(z) dz/dlogit


def check_relaxed_gradient_mean(fn) -> bool:
    """Check ``fn(logit, temperature, a, num_points)``: the mean relaxed gradient of (z - a)^2, a float64 scalar.

    >>> check_relaxed_gradient_mean(_relaxed_gradient_mean)
    ✓ relaxed_gradient_mean: correct on 4 inputs
    True
    """
    cases = [
        Case("logit 0, temperature 1, a = 0.3", (0.0, 1.0, 0.3, 10_000)),
        Case("logit 1.5, temperature 0.2, a = 0", (1.5, 0.2, 0.0, 10_000)),
        Case("logit -2, temperature 5, a = 1", (-2.0, 5.0, 1.0, 2_000)),
        Case("logit 0.5, temperature 0.05, a = 0.7", (0.5, 0.05, 0.7, 50_000)),
    ]
    return run_check(
        "relaxed_gradient_mean", fn, _relaxed_gradient_mean, cases, atol=1e-8, rtol=1e-6
    )

"""How noisy and how biased a stochastic gradient estimator is: mean, variance, SNR, bias."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

__all__ = [
    "GradientStats",
    "gradient_variance",
    "grouped_gradient_variance",
    "GradientBias",
    "gradient_bias",
]


@dataclass
class GradientStats:
    """Per-coordinate statistics of repeated gradient estimates.

    Attributes:
        mean: ``(P,)`` mean of the estimates over the draws.
        variance: ``(P,)`` unbiased variance over the draws.
        num_draws: number of draws.
    """

    mean: torch.Tensor
    variance: torch.Tensor
    num_draws: int

    @property
    def total_variance(self) -> float:
        r""":math:`\sum_p \mathrm{Var}[\hat g_p]`, the expected squared distance to the mean gradient."""
        return float(self.variance.sum())

    @property
    def standard_error(self) -> torch.Tensor:
        """``(P,)`` standard errors of :attr:`mean`."""
        return (self.variance / self.num_draws).sqrt()

    @property
    def snr(self) -> float:
        r"""Signal-to-noise ratio :math:`\lVert \bar g \rVert / \sqrt{\sum_p \mathrm{Var}[\hat g_p]}`."""
        return float(self.mean.norm() / self.variance.sum().sqrt().clamp_min(1e-30))


def gradient_variance(
    estimator_fn: Callable[[], torch.Tensor],
    params: Sequence[torch.Tensor],
    num_draws: int = 100,
) -> GradientStats:
    r"""Draw ``num_draws`` gradient estimates and return their mean and variance per parameter.

    ``estimator_fn()`` must return a fresh scalar surrogate (new random draws on each call);
    its gradient with respect to ``params`` is one estimate :math:`\hat g`. The estimates
    are flattened into one vector of :math:`P` coordinates and accumulated with Welford's
    update in float64, so memory stays :math:`O(P)` whatever the number of draws.

    Args:
        estimator_fn: ``() -> scalar`` surrogate loss.
        params: the tensors to differentiate (e.g. ``model.encoder.parameters()``).
        num_draws: repetitions, at least 2.

    >>> w = torch.tensor([2.0], requires_grad=True)
    >>> stats = gradient_variance(lambda: ((w * torch.randn(())) ** 2).sum(), [w], num_draws=4000)
    >>> abs(float(stats.mean) - 4.0) < 0.3, abs(float(stats.variance) - 32.0) < 6  # 2 w eps^2: mean 2w, var 8w^2
    (True, True)
    """
    params = list(params)
    if not params or not all(
        isinstance(p, torch.Tensor) and p.requires_grad for p in params
    ):
        raise ValueError(
            "params must be a non-empty sequence of tensors that require gradients"
        )
    if not isinstance(num_draws, int) or num_draws < 2:
        raise ValueError(
            f"num_draws must be an integer >= 2 (a variance needs two draws), got {num_draws!r}"
        )
    size = sum(p.numel() for p in params)
    mean = torch.zeros(size, dtype=torch.float64, device=params[0].device)
    m2 = torch.zeros_like(mean)
    for n in range(1, num_draws + 1):
        loss = estimator_fn()
        if loss.dim() != 0:
            raise ValueError(
                f"estimator_fn must return a scalar, got shape {tuple(loss.shape)}"
            )
        grads = torch.autograd.grad(loss, params, allow_unused=True)
        g = torch.cat(
            [
                (gr if gr is not None else torch.zeros_like(p)).reshape(-1)
                for gr, p in zip(grads, params)
            ]
        ).to(torch.float64)
        delta = g - mean
        mean += delta / n
        m2 += delta * (g - mean)
    return GradientStats(mean=mean, variance=m2 / (num_draws - 1), num_draws=num_draws)


@dataclass
class GradientBias:
    r"""How far the mean of repeated gradient estimates lies from an exact gradient :math:`g`.

    Attributes:
        distance: :math:`\lVert \bar g - g \rVert / \lVert g \rVert`, the relative distance of the mean.
        distance_se: its standard error (jackknife over batches of draws).
        noise: :math:`\sqrt{\sum_p \mathrm{se}_p^2} / \lVert g \rVert`, the distance that sampling
            noise alone produces: an unbiased estimator has ``distance`` close to ``noise``.
        stats: the :class:`GradientStats` of the draws.
    """

    distance: float
    distance_se: float
    noise: float
    stats: GradientStats

    @property
    def bias(self) -> float:
        r"""Relative bias with the noise removed, :math:`\sqrt{\max(d^2 - n^2, 0)}`."""
        return max(self.distance**2 - self.noise**2, 0.0) ** 0.5


def gradient_bias(
    estimator_fn: Callable[[], torch.Tensor],
    params: Sequence[torch.Tensor],
    exact: torch.Tensor,
    num_draws: int = 1000,
    num_batches: int = 20,
) -> GradientBias:
    r"""Draw ``num_draws`` estimates (:func:`gradient_variance`) and measure their mean's distance to ``exact``.

    The draws are split into ``num_batches`` batches; the jackknife over batches gives the
    standard error of the distance without storing every estimate.

    Args:
        estimator_fn: ``() -> scalar`` surrogate, as for :func:`gradient_variance`.
        params: the tensors to differentiate.
        exact: ``(P,)`` the exact gradient, flattened in the order of ``params``.

    >>> w = torch.tensor([1.0, 2.0], requires_grad=True)
    >>> result = gradient_bias(lambda: (w * (1 + 0.1 * torch.randn(2))).sum(), [w], torch.ones(2), 400)
    >>> result.bias < 3 * result.distance_se + 0.02  # unbiased: only noise separates the mean from g
    True
    """
    if (
        not isinstance(num_batches, int)
        or num_batches < 2
        or num_draws < 2 * num_batches
    ):
        raise ValueError(
            f"need num_batches >= 2 and num_draws >= 2 num_batches, got {num_batches} and {num_draws}"
        )
    exact = exact.reshape(-1).to(torch.float64)
    per_batch = num_draws // num_batches
    batches = [
        gradient_variance(estimator_fn, params, per_batch) for _ in range(num_batches)
    ]
    means = torch.stack([b.mean for b in batches])  # (M, P)
    if means.shape[1] != exact.numel():
        raise ValueError(
            f"exact has {exact.numel()} coordinates, the parameters have {means.shape[1]}"
        )
    scale = float(exact.norm())
    mean = means.mean(0)
    leave_out = (means.sum(0, keepdim=True) - means) / (num_batches - 1)  # (M, P)
    jack = (leave_out - exact).norm(dim=1) / scale  # (M,)
    distance_se = float(
        ((num_batches - 1) / num_batches * ((jack - jack.mean()) ** 2).sum()).sqrt()
    )
    variance = torch.stack([b.variance for b in batches]).mean(
        0
    )  # each batch's variance is unbiased
    stats = GradientStats(
        mean=mean, variance=variance, num_draws=per_batch * num_batches
    )
    noise = float(stats.standard_error.norm()) / scale
    return GradientBias(float((mean - exact).norm()) / scale, distance_se, noise, stats)


def grouped_gradient_variance(
    estimator_fn: Callable[[], torch.Tensor],
    groups: dict[str, Sequence[torch.Tensor]],
    num_draws: int = 100,
) -> dict[str, GradientStats]:
    r""":func:`gradient_variance` for several groups of parameters from the same draws, one result per group.

    The groups share each draw (e.g. an encoder's and a decoder's gradient from one surrogate),
    so measuring them together costs one backward pass per draw, not one per group.

    Args:
        estimator_fn: ``() -> scalar`` surrogate loss.
        groups: name -> parameters, e.g. ``{"encoder": [...], "decoder": [...]}``.
        num_draws: repetitions, at least 2.

    >>> a, b = torch.tensor([1.0], requires_grad=True), torch.tensor([3.0], requires_grad=True)
    >>> stats = grouped_gradient_variance(lambda: (a * b).sum(), {"a": [a], "b": [b]}, num_draws=3)
    >>> float(stats["a"].mean), float(stats["b"].mean), float(stats["a"].variance)
    (3.0, 1.0, 0.0)
    """
    if not groups:
        raise ValueError("groups must name at least one group of parameters")
    params = {name: list(ps) for name, ps in groups.items()}
    if any(not ps for ps in params.values()):
        raise ValueError(
            f"every group needs parameters; empty: {[n for n, ps in params.items() if not ps]}"
        )
    stats = gradient_variance(
        estimator_fn, [p for ps in params.values() for p in ps], num_draws
    )
    out, start = {}, 0
    for name, ps in params.items():
        stop = start + sum(p.numel() for p in ps)
        out[name] = GradientStats(
            stats.mean[start:stop], stats.variance[start:stop], stats.num_draws
        )
        start = stop
    return out

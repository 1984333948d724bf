"""Near-exact log p(x) for models with a 2-D latent, by integrating over the latent plane."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

__all__ = ["bernoulli_log_joint", "grid", "log_marginal_2d"]

LogJoint = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``log_joint(x, z) -> (S, B)``: :math:`\\log p(x_b, z_s)` for images ``(B, D)`` and codes ``(S, 2)``."""


def bernoulli_log_joint(decode: Callable, log_prior: Callable) -> LogJoint:
    r"""The log joint of a Bernoulli decoder, for every pair of image and grid point.

    .. math:: \log p(x, z) = \log p(z) + x^\top \ell(z) - \sum_d \log(1 + e^{\ell_d(z)})

    written as one matrix product, so that ``S`` codes and ``B`` images cost ``S`` decoder passes.

    Args:
        decode: :math:`z` ``(S, 2)`` to logits :math:`\ell(z)` ``(S, D)``.
        log_prior: :math:`z` ``(S, 2)`` to :math:`\log p(z)` ``(S,)``.

    >>> lj = bernoulli_log_joint(lambda z: torch.zeros(len(z), 3), lambda z: torch.zeros(len(z)))
    >>> lj(torch.ones(1, 3), torch.zeros(2, 2)).squeeze()  # three fair coins: -3 log 2
    tensor([-2.0794, -2.0794])
    """

    def log_joint(x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        logits = decode(z)  # (S, D)
        log_px_z = logits @ x.T - F.softplus(logits).sum(-1, keepdim=True)  # (S, B)
        return log_px_z + log_prior(z)[:, None]

    return log_joint


def grid(lo: torch.Tensor, hi: torch.Tensor, n: int) -> tuple[torch.Tensor, float]:
    """The centres of an ``n x n`` grid of cells over the box ``[lo, hi]``, ``(n * n, 2)``, and a cell's area.

    >>> points, area = grid(torch.tensor([0.0, 0.0]), torch.tensor([1.0, 2.0]), 2)
    >>> points.tolist(), area
    ([[0.25, 0.5], [0.25, 1.5], [0.75, 0.5], [0.75, 1.5]], 0.5)
    """
    step = (hi - lo) / n  # (2,)
    axes = [lo[i] + step[i] * (torch.arange(n, dtype=lo.dtype) + 0.5) for i in range(2)]
    points = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, 2)
    return points, float(step[0] * step[1])


def _check(x, box, coarse, fine, levels, threshold):
    if not isinstance(x, torch.Tensor) or x.dim() != 2:
        raise ValueError(
            f"x must be a tensor of shape (B, D), got {getattr(x, 'shape', type(x))}"
        )
    lo, hi = (torch.as_tensor(b, dtype=torch.float64) for b in box)
    if lo.shape != (2,) or hi.shape != (2,) or not bool((hi > lo).all()):
        raise ValueError(
            f"box must be (lo, hi), two points of the plane with lo < hi, got {box}"
        )
    for name, n in (("coarse", coarse), ("fine", fine)):
        if not isinstance(n, int) or n < 4 or n % 2:
            raise ValueError(
                f"{name} must be an even integer >= 4 (points per axis), got {n!r}"
            )
    if not isinstance(levels, int) or levels < 1:
        raise ValueError(f"levels must be a positive integer, got {levels!r}")
    if threshold <= 0:
        raise ValueError(
            f"threshold must be positive (nats below the peak), got {threshold}"
        )
    return lo, hi


def _zoom(values: torch.Tensor, lo, hi, n: int, threshold: float):
    """The box of the cells within ``threshold`` of the peak, one cell wider, and the mass outside it."""
    grid_values = values.reshape(n, n)
    keep = grid_values > grid_values.max() - threshold
    step = (hi - lo) / n
    rows, cols = keep.any(1).nonzero().squeeze(1), keep.any(0).nonzero().squeeze(1)
    first = torch.stack([rows.min(), cols.min()]).double() - 1
    last = torch.stack([rows.max(), cols.max()]).double() + 2
    new_lo, new_hi = lo + step * first.clamp(min=0), lo + step * last.clamp(max=n)
    i, j = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    inside = (
        (i >= first[0]) & (i < last[0]) & (j >= first[1]) & (j < last[1])
    ).reshape(-1)
    area = float(step[0] * step[1])
    outside = (
        torch.logsumexp(values[~inside], 0) + math.log(area)
        if (~inside).any()
        else -math.inf
    )
    return new_lo, new_hi, float(outside)


@torch.no_grad()
def log_marginal_2d(
    log_joint: LogJoint,
    x: torch.Tensor,
    box,
    coarse: int = 256,
    fine: int = 96,
    levels: int = 2,
    threshold: float = 30.0,
    batch_size: int = 100,
) -> dict:
    r""":math:`\log p(x) = \log \int p(x, z)\, \mathrm{d}z` over a 2-D latent, by zooming grids.

    A coarse ``coarse x coarse`` grid over ``box``, shared by all images, finds where
    :math:`p(x, z)` is within ``threshold`` nats of its peak. Each image then gets ``levels``
    finer ``fine x fine`` grids, each over the part of the previous one that holds that mass.
    Cells left out at each level are summed at that level's resolution; each is below the peak
    by ``threshold`` nats at least. The midpoint rule converges very fast on smooth integrands
    that vanish at the edges, and the same sum on every other point of the last grid (twice the
    spacing) gives a check: ``half`` differs from ``log_px`` by much less than the error of the
    coarser rule. Separate narrow modes share one bounding box, so they need a larger ``fine``;
    a large ``half - log_px`` says so.

    Args:
        log_joint: ``log_joint(x, z) -> (S, B)`` (see :func:`bernoulli_log_joint`).
        x: images ``(B, D)``.
        box: ``(lo, hi)``, corners of the rectangle of the plane to integrate over; mass
            outside it is left out.
        coarse, fine: points per axis (even).
        levels: zoom steps per image.
        threshold: nats below the peak under which a cell is summed coarsely.
        batch_size: images per coarse pass.

    Returns:
        ``{"log_px": (B,), "half": (B,)}`` in nats, float64.
    """
    lo, hi = _check(x, box, coarse, fine, levels, threshold)
    points, area = grid(lo, hi, coarse)
    log_px, half = [], []
    for start in range(0, len(x), batch_size):
        xb = x[start : start + batch_size]
        coarse_values = log_joint(xb, points.to(x)).double().cpu()  # (S, b)
        for b in range(len(xb)):
            values, box_lo, box_hi, n, outside = coarse_values[:, b], lo, hi, coarse, []
            for _ in range(levels):
                box_lo, box_hi, left_out = _zoom(values, box_lo, box_hi, n, threshold)
                outside.append(left_out)
                fine_points, area = grid(box_lo, box_hi, fine)
                values, n = (
                    log_joint(xb[b : b + 1], fine_points.to(x)).double().cpu()[:, 0],
                    fine,
                )
            rest = torch.tensor(outside).logsumexp(0)
            inside = values.logsumexp(0) + math.log(area)
            every_other = values.reshape(fine, fine)[::2, ::2].logsumexp(
                (0, 1)
            ) + math.log(4 * area)
            log_px.append(torch.logaddexp(inside, rest))
            half.append(torch.logaddexp(every_other, rest))
    return {"log_px": torch.stack(log_px), "half": torch.stack(half)}

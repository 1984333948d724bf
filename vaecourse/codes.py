"""What a VAE's codes hold: KL per image, active latents, and how decided binary latents are."""

from __future__ import annotations

import torch

from .bernoulli_vae import BernoulliVAE
from .densities import kl_bernoulli, kl_normal_standard

__all__ = [
    "active_units",
    "decided_fraction",
    "histogram_shape",
    "mean_kl",
    "posterior_means",
]


@torch.no_grad()
def posterior_means(model, x: torch.Tensor) -> torch.Tensor:
    r""":math:`\mathbb{E}_q[z]` per image, ``(B, Dz)``: the Bernoulli means of a binary encoder, the
    Gaussian means :math:`\mu_\phi(x)` of an encoder that returns ``(mu, log_sigma)``, or the
    code of a deterministic encoder."""
    out = model.encode(x.to(model.device))
    if isinstance(model, BernoulliVAE):
        return torch.sigmoid(out).cpu()
    return (out[0] if isinstance(out, tuple) else out).cpu()


@torch.no_grad()
def mean_kl(model, x: torch.Tensor) -> float:
    r"""The KL term :math:`\mathrm{KL}(q_\phi(z \mid x) \,\|\, p(z))` in closed form, averaged over ``x``."""
    x = x.to(model.device)
    if isinstance(model, BernoulliVAE):
        return float(kl_bernoulli(model.encode(x)).mean())
    return float(kl_normal_standard(*model.encode(x)).mean())


@torch.no_grad()
def active_units(model, x: torch.Tensor, threshold: float = 0.01) -> torch.Tensor:
    r"""Which latent dimensions are active (Burda et al., 2016): :math:`\mathrm{Var}_x\, \mathbb{E}_{q(z \mid x)}[z_j] > \delta`.

    A dimension whose posterior mean hardly moves with :math:`x` carries no information
    about the data: the encoder leaves it at the prior. The posterior means are those of
    :func:`posterior_means` (Gaussian or Bernoulli latents).

    Args:
        model: a model with ``encode(x)`` and ``check_data(x)``.
        x: data ``(N, D)`` with :math:`N \ge 2`, checked as training checks it.
        threshold: :math:`\delta` (0.01 in Burda et al.).

    Returns:
        ``(Dz,)`` booleans; ``.sum()`` is the number of active units.

    >>> from vaecourse.ppca import ProbabilisticPCA
    >>> model = ProbabilisticPCA(x_dim=4, z_dim=2)
    >>> model.set_q_to_posterior()
    >>> int(active_units(model, torch.randn(500, 4, dtype=torch.float64).mul(3)).sum())
    2
    """
    if not hasattr(model, "encode") or not hasattr(model, "check_data"):
        raise TypeError(
            f"{type(model).__name__} has no encode(x) and check_data(x); active units need both"
        )
    if not threshold >= 0:
        raise ValueError(f"threshold must be a non-negative number, got {threshold!r}")
    x = model.check_data(x)
    if x.shape[0] < 2:
        raise ValueError(
            f"active units need at least 2 examples (a variance over x), got {x.shape[0]}"
        )
    mu = torch.cat([posterior_means(model, xb) for xb in x.split(1000)])  # (N, Dz)
    return mu.var(0) > threshold


def decided_fraction(means: torch.Tensor, margin: float = 0.1) -> float:
    """The fraction of Bernoulli means within ``margin`` of 0 or 1.

    >>> decided_fraction(torch.tensor([0.02, 0.5, 0.97, 0.6]))
    0.5
    """
    if not 0 < margin < 0.5:
        raise ValueError(f"margin must lie in (0, 0.5), got {margin}")
    return float(((means < margin) | (means > 1 - margin)).float().mean())


def histogram_shape(means: torch.Tensor, margin: float = 0.1) -> str:
    """``"U-shaped"`` when more means lie within ``margin`` of 0 or 1 than within ``margin`` of 1/2,
    else ``"peaked at 1/2"``.

    >>> histogram_shape(torch.tensor([0.01, 0.99, 0.5])), histogram_shape(torch.tensor([0.5, 0.45, 0.9]))
    ('U-shaped', 'peaked at 1/2')
    """
    middle = float(((means - 0.5).abs() < margin).float().mean())
    return "U-shaped" if decided_fraction(means, margin) > middle else "peaked at 1/2"

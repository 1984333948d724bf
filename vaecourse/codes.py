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
    r""":math:`\mathbb{E}_q[z]` per image, ``(B, Dz)``: the Bernoulli means of a binary encoder, or
    the Gaussian means :math:`\mu_\phi(x)`."""
    x = x.to(model.device)
    if isinstance(model, BernoulliVAE):
        return torch.sigmoid(model.encode(x)).cpu()
    return model.encode(x)[0].cpu()


@torch.no_grad()
def mean_kl(model, x: torch.Tensor) -> float:
    r"""The KL term :math:`\mathrm{KL}(q_\phi(z \mid x) \,\|\, p(z))` in closed form, averaged over ``x``."""
    x = x.to(model.device)
    if isinstance(model, BernoulliVAE):
        return float(kl_bernoulli(model.encode(x)).mean())
    return float(kl_normal_standard(*model.encode(x)).mean())


def active_units(model, x: torch.Tensor, threshold: float = 0.01) -> int:
    r"""Latents whose posterior mean varies across images: :math:`\mathrm{Var}_x \mathbb{E}_q[z_j] >` ``threshold``."""
    return int((posterior_means(model, x).var(0) > threshold).sum())


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

"""Continuous relaxations of binary latents: the Concrete (Gumbel-softmax) sample and straight-through."""

from __future__ import annotations

import torch

__all__ = ["RELAXATIONS", "relaxed_bernoulli", "relaxed_sample", "straight_through"]

RELAXATIONS = ("relaxed", "straight_through")
"""The relaxation-based estimators, by the names that the binary-latent VAE accepts."""


def _check_temperature(temperature: float) -> float:
    if not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"temperature must be a positive number, got {temperature!r}")
    return float(temperature)


def relaxed_bernoulli(
    logits: torch.Tensor, temperature: float, num_samples: int = 1
) -> torch.Tensor:
    r"""Reparameterised relaxed Bernoulli draws (the binary Concrete or Gumbel-softmax sample).

    .. math:: \tilde z = \operatorname{sigmoid}\Big(\frac{\ell + \log u - \log(1 - u)}{\tau}\Big), \qquad u \sim U(0, 1)

    :math:`\log u - \log(1 - u)` is standard logistic noise, so
    :math:`P(\tilde z \le y) = \operatorname{sigmoid}\big(\tau \operatorname{logit}(y) - \ell\big)` for
    :math:`y \in (0, 1)`, and :math:`\mathbb{1}[\tilde z > \tfrac12]` is exactly
    :math:`\mathcal{B}(\operatorname{sigmoid}(\ell))` whatever :math:`\tau`. As :math:`\tau \to 0` the draws
    concentrate on {0, 1}; for any :math:`\tau` they are a differentiable function of :math:`\ell`.
    Drawn by :class:`torch.distributions.RelaxedBernoulli`.

    Args:
        logits: :math:`\ell`, shape ``(B, Dz)``.
        temperature: :math:`\tau > 0`.
        num_samples: :math:`K`.

    Returns:
        ``(K, B, Dz)`` values in (0, 1), differentiable in ``logits``.

    >>> z = relaxed_bernoulli(torch.zeros(1, 3, requires_grad=True), temperature=0.5, num_samples=4)
    >>> z.shape, bool(((z > 0) & (z < 1)).all()), z.requires_grad
    (torch.Size([4, 1, 3]), True, True)
    """
    tau = torch.as_tensor(
        _check_temperature(temperature), dtype=logits.dtype, device=logits.device
    )
    if not isinstance(num_samples, int) or num_samples < 1:
        raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")
    return torch.distributions.RelaxedBernoulli(tau, logits=logits).rsample(
        (num_samples,)
    )


def straight_through(hard: torch.Tensor, soft: torch.Tensor) -> torch.Tensor:
    r"""The value of ``hard`` with the gradient of ``soft``: :math:`z = h + \tilde z - \mathrm{sg}(\tilde z)`.

    :math:`\mathrm{sg}` stops gradients, so the forward value is exactly :math:`h` and the
    backward pass treats :math:`\partial z / \partial \tilde z` as the identity. With
    :math:`h = \mathbb{1}[\tilde z > \tfrac12]` it is the straight-through Gumbel estimator:
    the decoder sees binary codes, and the gradient is the relaxed one, evaluated at the wrong
    point (a binary code), hence biased whatever the temperature.

    Args:
        hard: :math:`h`, any shape, no gradient needed.
        soft: :math:`\tilde z`, same shape, differentiable.

    >>> soft = torch.tensor([0.3, 0.8], requires_grad=True)
    >>> z = straight_through((soft > 0.5).float(), soft)
    >>> z.tolist(), torch.autograd.grad(z.sum(), soft)[0].tolist()
    ([0.0, 1.0], [1.0, 1.0])
    """
    if hard.shape != soft.shape:
        raise ValueError(
            "hard and soft must have the same shape, "
            f"got {tuple(hard.shape)} and {tuple(soft.shape)}"
        )
    return hard.detach() + (soft - soft.detach())  # soft - soft is exactly 0 forward


def relaxed_sample(
    logits: torch.Tensor, estimator: str, temperature: float, num_samples: int = 1
) -> torch.Tensor:
    r"""Latents for a relaxation-based estimator: relaxed draws, or binary draws with relaxed gradients.

    ``estimator="relaxed"`` returns :func:`relaxed_bernoulli` draws; ``"straight_through"`` returns
    :math:`\mathbb{1}[\tilde z > \tfrac12]`, exact :math:`\mathcal{B}(\operatorname{sigmoid}(\ell))` samples, through
    :func:`straight_through`. Shapes as in :func:`relaxed_bernoulli`.

    >>> z = relaxed_sample(torch.randn(2, 5), "straight_through", temperature=1.0, num_samples=3)
    >>> sorted(z.unique().tolist())
    [0.0, 1.0]
    """
    if estimator not in RELAXATIONS:
        raise ValueError(f"estimator must be one of {RELAXATIONS}, got {estimator!r}")
    soft = relaxed_bernoulli(logits, temperature, num_samples)  # (K, B, Dz)
    if estimator == "relaxed":
        return soft
    return straight_through((soft > 0.5).to(soft.dtype), soft)

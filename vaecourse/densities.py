"""Log-densities summed per example, analytic KL terms and a stable log-mean-exp."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = [
    "log_bernoulli",
    "log_normal",
    "log_standard_normal",
    "kl_normal_standard",
    "kl_bernoulli",
    "log_mean_exp",
]

_LOG_2PI = math.log(2 * math.pi)


def _check_same_shape(a: torch.Tensor, b: torch.Tensor, names: str) -> None:
    if a.shape != b.shape:
        try:
            torch.broadcast_shapes(a.shape, b.shape)
        except RuntimeError:
            raise ValueError(
                f"{names} must have broadcastable shapes, got {tuple(a.shape)} and {tuple(b.shape)}"
            ) from None


def log_bernoulli(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    r"""Bernoulli log-likelihood from logits, summed over the last dimension.

    .. math:: \log p(x) = \sum_d x_d \log \operatorname{sigmoid}(\ell_d) + (1 - x_d) \log \operatorname{sigmoid}(-\ell_d)

    Written as ``-binary_cross_entropy_with_logits``, which never forms
    :math:`\log \operatorname{sigmoid}(\ell)` for large :math:`|\ell|` and so stays finite.

    Args:
        x: observations in {0, 1}, shape ``(..., D)``.
        logits: :math:`\ell`, broadcastable to ``x``.

    Returns:
        ``(...)``: one log-probability per example.

    >>> log_bernoulli(torch.tensor([1., 0.]), torch.zeros(2))  # two fair coins
    tensor(-1.3863)
    """
    _check_same_shape(x, logits, "x and logits")
    x, logits = torch.broadcast_tensors(x, logits)
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


def log_normal(
    z: torch.Tensor, mu: torch.Tensor, log_sigma: torch.Tensor
) -> torch.Tensor:
    r"""Diagonal Gaussian log-density, summed over the last dimension.

    .. math:: \log \mathcal{N}(z; \mu, \sigma^2) = -\sum_j \Big[\tfrac12 \log 2\pi + \log\sigma_j
              + \tfrac12 \big(\tfrac{z_j - \mu_j}{\sigma_j}\big)^2\Big]

    Args:
        z: points, shape ``(..., Dz)``.
        mu: :math:`\mu`, broadcastable to ``z``.
        log_sigma: :math:`\log \sigma` (a log standard deviation), broadcastable to ``z``.

    >>> log_normal(torch.zeros(1), torch.zeros(1), torch.zeros(1))  # -log sqrt(2 pi)
    tensor(-0.9189)
    """
    _check_same_shape(z, mu, "z and mu")
    _check_same_shape(z, log_sigma, "z and log_sigma")
    eps = (z - mu) * torch.exp(-log_sigma)
    return -(0.5 * _LOG_2PI + log_sigma + 0.5 * eps**2).sum(-1)


def log_standard_normal(z: torch.Tensor) -> torch.Tensor:
    r"""Standard normal log-density :math:`\log \mathcal{N}(z; 0, I)`, summed over the last dimension.

    >>> log_standard_normal(torch.zeros(2, 3)).shape
    torch.Size([2])
    """
    return -(0.5 * _LOG_2PI + 0.5 * z**2).sum(-1)


def kl_normal_standard(mu: torch.Tensor, log_sigma: torch.Tensor) -> torch.Tensor:
    r"""Analytic :math:`\mathrm{KL}(\mathcal{N}(\mu, \sigma^2) \,\|\, \mathcal{N}(0, I))`, summed over the last dimension.

    .. math:: \mathrm{KL} = \tfrac12 \sum_j \big(\mu_j^2 + \sigma_j^2 - 1 - 2 \log \sigma_j\big)

    Args:
        mu: :math:`\mu`, shape ``(..., Dz)``.
        log_sigma: :math:`\log \sigma`, same shape.

    >>> kl_normal_standard(torch.zeros(4), torch.zeros(4))  # q equals the prior
    tensor(0.)
    >>> kl_normal_standard(torch.tensor([1.0]), torch.zeros(1))  # a unit shift costs 1/2 nat
    tensor(0.5000)
    """
    _check_same_shape(mu, log_sigma, "mu and log_sigma")
    return 0.5 * (mu**2 + torch.exp(2 * log_sigma) - 1 - 2 * log_sigma).sum(-1)


def kl_bernoulli(
    logits_q: torch.Tensor, logits_p: torch.Tensor | float = 0.0
) -> torch.Tensor:
    r"""Analytic KL between factorised Bernoulli distributions, summed over the last dimension.

    .. math:: \mathrm{KL}(q \,\|\, p) = \sum_j q_j \log\frac{q_j}{p_j} + (1 - q_j) \log\frac{1 - q_j}{1 - p_j}

    with :math:`q_j = \operatorname{sigmoid}(\text{logits\_q}_j)` and :math:`p_j = \operatorname{sigmoid}(\text{logits\_p}_j)`. The
    default prior logit 0 is :math:`\mathcal{B}(0.5)`. Computed from log-sigmoids, so a saturated
    :math:`q` gives a finite value.

    >>> kl_bernoulli(torch.zeros(3))  # q = p = B(0.5)
    tensor(0.)
    >>> kl_bernoulli(torch.tensor([50.0]))  # q almost surely 1: KL -> log 2
    tensor(0.6931)
    """
    logits_p = torch.as_tensor(logits_p, dtype=logits_q.dtype, device=logits_q.device)
    _check_same_shape(logits_q, logits_p, "logits_q and logits_p")
    q = torch.sigmoid(logits_q)
    log_q1, log_q0 = F.logsigmoid(logits_q), F.logsigmoid(-logits_q)
    log_p1, log_p0 = F.logsigmoid(logits_p), F.logsigmoid(-logits_p)
    kl = q * (log_q1 - log_p1) + (1 - q) * (log_q0 - log_p0)
    return kl.sum(-1)


def log_mean_exp(a: torch.Tensor, dim: int = 0) -> torch.Tensor:
    r"""Numerically stable :math:`\log \frac1K \sum_k e^{a_k}` along ``dim``.

    Subtracting the maximum before exponentiating (``logsumexp``) avoids the
    underflow of :math:`e^{a}` when :math:`a` is a log-likelihood of hundreds of nats.

    >>> log_mean_exp(torch.tensor([-1000.0, -1000.0]))
    tensor(-1000.)
    """
    if a.shape[dim] == 0:
        raise ValueError(f"log_mean_exp needs at least one element along dim {dim}")
    return torch.logsumexp(a, dim=dim) - math.log(a.shape[dim])

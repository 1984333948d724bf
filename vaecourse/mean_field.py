"""Mean-field Bernoulli posteriors with one set of logits per data point: their gradient, fitting and scoring."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .densities import kl_bernoulli, log_bernoulli
from .estimators import leave_one_out
from .protocol import check_batch
from .samplers import sample_bernoulli

__all__ = ["mean_field_gradient", "optimise_logits", "FittedPosterior"]


def mean_field_gradient(
    f: torch.Tensor, z: torch.Tensor, q_logits: torch.Tensor, prior_logits: torch.Tensor
) -> torch.Tensor:
    r"""Gradient of the mean-field ELBO with respect to the variational logits :math:`\ell`, from samples.

    .. math:: \nabla_\ell \mathcal{L} \approx \frac1K \sum_k (f_k - b_k)\,(z_k - q)
              \;-\; q \odot (1 - q) \odot (\ell - a), \qquad q = \operatorname{sigmoid}(\ell)

    The first term is the leave-one-out score-function estimate of
    :math:`\nabla_\ell \mathbb{E}_q[\log p(x \mid z)]` (:math:`b_k` from
    :func:`~vaecourse.estimators.leave_one_out`), written with the Bernoulli score
    :math:`\nabla_\ell \log q(z) = z - \operatorname{sigmoid}(\ell)`; the second is the exact gradient of
    :math:`-\mathrm{KL}(q \,\|\, p)` (:math:`\partial \mathrm{KL} / \partial q_j = \ell_j - a_j`,
    times :math:`\partial q_j / \partial \ell_j = q_j (1 - q_j)`). No backpropagation is needed.

    Args:
        f: :math:`f_k = \log p(x \mid z_k)`, ``(K, B)``, K >= 2.
        z: the samples :math:`z_k \sim q`, ``(K, B, Dz)``.
        q_logits: :math:`\ell`, ``(B, Dz)``.
        prior_logits: :math:`a`, broadcastable to ``(B, Dz)``.

    Returns:
        ``(B, Dz)``, the estimated ascent direction.

    >>> f = torch.tensor([[-3.0], [-1.0]]); z = torch.tensor([[[0.0]], [[1.0]]])
    >>> mean_field_gradient(f, z, torch.zeros(1, 1), torch.zeros(1))  # z = 1 scored higher: push lambda up
    tensor([[1.]])
    """
    if (
        f.dim() != 2
        or f.shape[0] < 2
        or z.shape[:2] != f.shape
        or z.shape[2:] != q_logits.shape[1:]
    ):
        raise ValueError(
            f"expected f (K, B) with K >= 2, z (K, B, Dz) and q_logits (B, Dz); got "
            f"{tuple(f.shape)}, {tuple(z.shape)}, {tuple(q_logits.shape)}"
        )
    q = torch.sigmoid(q_logits)  # (B, Dz)
    score_term = ((f - leave_one_out(f))[..., None] * (z - q)).mean(0)  # (B, Dz)
    kl_term = q * (1 - q) * (q_logits - prior_logits)  # (B, Dz)
    return score_term - kl_term


@torch.no_grad()
def optimise_logits(
    decode: Callable[[torch.Tensor], torch.Tensor],
    prior_logits: torch.Tensor,
    x: torch.Tensor,
    lam: torch.Tensor,
    steps: int,
    num_samples: int,
    lr: float,
) -> torch.Tensor:
    """Adam ascent on the variational logits ``lam`` ``(B, Dz)`` alone, in place; ``decode`` does not move.

    Each step draws ``num_samples`` latents per row and follows :func:`mean_field_gradient`.

    Returns:
        The ELBO estimate ``(B,)`` at the last step.
    """
    lam.requires_grad_(True)
    optimizer = torch.optim.Adam([lam], lr=lr)
    elbo = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    prior_logits = prior_logits.detach()
    for _ in range(steps):
        z = sample_bernoulli(lam, num_samples)  # (K, B, Dz)
        log_px_z = log_bernoulli(x, decode(z))  # (K, B)
        elbo = log_px_z.mean(0) - kl_bernoulli(lam, prior_logits)
        lam.grad = -mean_field_gradient(
            log_px_z, z, lam, prior_logits
        )  # Adam minimises
        optimizer.step()
    lam.requires_grad_(False)
    return elbo


class FittedPosterior:
    """A frozen scoring view: a sigmoid belief network bound to mean-field logits fitted to data ``x``.

    Row ``n`` of ``q_logits`` belongs to row ``n`` of ``x``. ``log_weights(x_rows, K, index)``
    scores the rows ``index`` of that data (the evaluators pass ``index`` on); without ``index``
    it scores all of ``x`` in order. Identical images keep their own rows. Made by
    :meth:`vaecourse.sbn.SigmoidBeliefNet.posterior_view`, or directly.

    Args:
        model: a :class:`~vaecourse.sbn.SigmoidBeliefNet` or :class:`~vaecourse.sbn.AmortisedSBN`.
        x: ``(N, D)`` the data ``q_logits`` were fitted to.
        q_logits: ``(N, Dz)``.
    """

    def __init__(self, model, x: torch.Tensor, q_logits: torch.Tensor):
        check_batch(x, model.x_dim)
        if q_logits.shape != (x.shape[0], model.z_dim):
            raise ValueError(
                f"q_logits must have shape ({x.shape[0]}, {model.z_dim}), got {tuple(q_logits.shape)}"
            )
        self.model, self.x, self.q_logits = model, x.detach(), q_logits.detach()
        self.x_dim, self.z_dim = model.x_dim, model.z_dim

    @property
    def device(self) -> torch.device:
        return self.model.device

    def check_data(self, x: torch.Tensor, name: str = "x") -> torch.Tensor:
        """The model's own data check (:meth:`vaecourse.protocol.CourseModel.check_data`)."""
        return self.model.check_data(x, name)

    @torch.no_grad()
    def log_weights(
        self, x: torch.Tensor, num_samples: int = 1, index: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``(K, B)`` log importance weights of rows ``index`` of the fitted data under their :math:`q_\\ell`."""
        n = self.x.shape[0]
        if index is None:
            if x.shape[0] != n:
                raise ValueError(
                    f"x has {x.shape[0]} rows but the posterior was fitted to {n}: pass index=, "
                    "the rows of x in the fitted data (evaluate.elbo(view, x, index=...) does)"
                )
            index = torch.arange(n)
        index = torch.as_tensor(index).cpu()
        if index.shape != (x.shape[0],) or (
            index.numel() and not 0 <= int(index.min()) <= int(index.max()) < n
        ):
            raise ValueError(
                f"index must hold {x.shape[0]} row numbers in [0, {n}), one per row of x, got shape "
                f"{tuple(index.shape)}, values {index.tolist()[:6]}"
            )
        if not torch.equal(self.x[index.to(self.x.device)].to(x), x):
            raise ValueError(
                "x differs from the data the posterior was fitted to (at rows index); call "
                "model.posterior_view(x) on the data you want to score"
            )
        return self.model.log_weights_given_q(
            x, self.q_logits[index.to(self.q_logits.device)], num_samples
        )

"""A sigmoid belief network with a mean-field posterior per data point, trained by alternating updates."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..densities import kl_bernoulli, log_bernoulli
from ..evaluate import elbo as evaluate_elbo
from ..mean_field import optimise_logits
from ..protocol import (
    check_positive,
    check_positive_int,
    check_widths,
)
from ..samplers import sample_bernoulli
from .base import _check_num_samples, _SBNBase

__all__ = ["SigmoidBeliefNet"]


class SigmoidBeliefNet(_SBNBase):
    r"""A sigmoid belief network with a non-amortised mean-field posterior, trained by alternating updates.

    Generative model (the parameters :math:`\theta`): a learned Bernoulli prior
    :math:`p(z_j = 1) = \operatorname{sigmoid}(a_j)` and a decoder :math:`p(x \mid z) = \prod_d \mathcal{B}(x_d; \operatorname{sigmoid}(\ell_\theta(z)_d))`,
    :math:`\ell_\theta(z) = Wz + b` (or one hidden layer). Variational family: one vector of logits
    :math:`\ell^{(n)} \in \mathbb{R}^{D_z}` per training example,
    :math:`q_n(z) = \prod_j \mathcal{B}(z_j; \operatorname{sigmoid}(\ell^{(n)}_j))`, stored as the table
    ``q_logits`` of shape ``(num_examples, Dz)``. No network maps :math:`x` to :math:`\ell`.

    Training (:meth:`fit_batch`, called by :func:`vaecourse.train` with the batch's row indices):

    1. **variational step** -- ``inner_steps`` Adam steps on the batch's rows :math:`\ell^{(n)}`
       alone, :math:`\theta` held fixed (eq. 15, first line);
    2. **generative step** -- one step of the given optimiser on :math:`\theta` alone, the just
       updated :math:`\ell^{(n)}` held fixed (eq. 15, second line).

    Rows of other examples do not move. New data need their own :math:`\ell`, fitted with the
    decoder frozen: :meth:`posterior_view`.

    Args:
        x_dim: :math:`D`.
        z_dim: :math:`D_z`.
        num_examples: :math:`N`, rows of the variational table (the training set size).
        hidden: ``()`` for the linear SBN, or one hidden width.
        activation: hidden activation.
        num_samples: :math:`K` draws per gradient estimate (leave-one-out baseline, K >= 2).
        inner_steps: variational steps per minibatch.
        inner_lr: Adam step size of the variational step.

    >>> sbn = SigmoidBeliefNet(x_dim=6, z_dim=3, num_examples=10)
    >>> sbn.log_weights(torch.ones(2, 6), 4, index=torch.tensor([0, 7])).shape
    torch.Size([4, 2])
    """

    def __init__(
        self,
        x_dim: int,
        z_dim: int,
        num_examples: int,
        hidden: Sequence[int] = (),
        activation: str = "tanh",
        num_samples: int = 5,
        inner_steps: int = 5,
        inner_lr: float = 0.1,
    ):
        super().__init__()
        self._build_generative(x_dim, z_dim, hidden, activation)
        num_examples = check_positive_int(
            num_examples, "num_examples"
        )  # rows of the variational table
        self.num_samples = _check_num_samples(num_samples)
        self.inner_steps = check_positive_int(inner_steps, "inner_steps")
        self.inner_lr = check_positive(inner_lr, "inner_lr")
        self.config = dict(
            x_dim=self.x_dim,
            z_dim=self.z_dim,
            num_examples=num_examples,
            hidden=check_widths(hidden),
            activation=activation,
            num_samples=self.num_samples,
            inner_steps=self.inner_steps,
            inner_lr=self.inner_lr,
        )
        # lambda^(n), one row per training example: a buffer, so the generative optimiser never touches it
        self.register_buffer("q_logits", torch.zeros(num_examples, z_dim))

    def num_variational_parameters(self) -> int:
        """Entries of the variational table: :math:`N \\cdot D_z`, growing with the data set."""
        return self.q_logits.numel()

    def _check_index(self, x: torch.Tensor, index) -> torch.Tensor:
        if index is None:
            raise ValueError(
                "a SigmoidBeliefNet's q is a table over training examples: pass index= (the rows of "
                "the training set in x), or score new data through model.posterior_view(x_new)"
            )
        index = torch.as_tensor(index, device=self.q_logits.device)
        if index.shape != (x.shape[0],):
            raise ValueError(
                f"index must have shape ({x.shape[0]},), one row per example, got {tuple(index.shape)}"
            )
        if int(index.min()) < 0 or int(index.max()) >= self.q_logits.shape[0]:
            raise IndexError(
                f"index must lie in [0, {self.q_logits.shape[0]}), got values in "
                f"[{int(index.min())}, {int(index.max())}]"
            )
        return index

    def log_weights(
        self, x: torch.Tensor, num_samples: int = 1, index: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``(K, B)`` log weights for training rows ``index`` under their table entries :math:`q_n`."""
        index = self._check_index(x, index)
        return self.log_weights_given_q(x, self.q_logits[index], num_samples)

    def training_loss(self, x: torch.Tensor, index: torch.Tensor | None = None):
        """Negative mean ELBO surrogate of the batch under its current table rows (gradient to :math:`\\theta` only)."""
        index = self._check_index(x, index)
        surrogate, elbo = self.elbo_surrogate(x, self.q_logits[index], self.num_samples)
        return -surrogate.mean(), dict(elbo=elbo.mean())

    def fit_batch(
        self, x: torch.Tensor, index: torch.Tensor, optimizer: torch.optim.Optimizer
    ):
        r"""One round of eq. 15 on a minibatch: update :math:`\ell^{(n)}` (batch rows), then :math:`\theta`.

        Args:
            x: ``(B, D)`` the batch.
            index: ``(B,)`` its rows in the training set (rows of ``q_logits``).
            optimizer: an optimiser over the generative parameters :math:`\theta`.

        Returns:
            ``(loss, stats)``: the negative mean ELBO estimate after the variational step (before
            the generative step), and ``stats`` with that ``elbo`` and ``elbo_q_step``, the
            estimate at the last variational step.
        """
        index = self._check_index(x, index)
        lam = self.q_logits[index].clone()  # (B, Dz), a copy of the batch's rows
        # step 1: lambda moves, theta frozen (closed-form score-function gradient, no backpropagation)
        elbo_q = optimise_logits(
            self.decode,
            self.prior_logits,
            x,
            lam,
            self.inner_steps,
            self.num_samples,
            self.inner_lr,
        )
        self.q_logits[index] = lam
        # step 2: theta moves, ell frozen (detached); one step of the generative optimiser
        optimizer.zero_grad(set_to_none=True)
        z = sample_bernoulli(lam, self.num_samples)  # (K, B, Dz)
        log_px_z = log_bernoulli(x, self.decode(z))  # (K, B)
        elbo = log_px_z.mean(0) - kl_bernoulli(
            lam, self.prior_logits
        )  # (B,), differentiable in theta
        (-elbo.mean()).backward()
        optimizer.step()
        elbo = elbo.detach().mean()
        return -elbo, dict(elbo=elbo, elbo_q_step=elbo_q.mean())

    @torch.no_grad()
    def validation_stats(
        self, x: torch.Tensor, batch_size: int = 1000
    ) -> dict[str, float]:
        """``{"elbo": ...}``: the mean ELBO of held-out ``x`` under :math:`q` fitted to it, :math:`\theta` frozen.

        The table has no rows for unseen data, so :math:`q` is fitted first (:meth:`posterior_view`,
        ``10 * inner_steps`` steps from the prior).
        """
        view = self.posterior_view(
            x,
            steps=10 * self.inner_steps,
            num_samples=self.num_samples,
            lr=self.inner_lr,
        )
        scores = evaluate_elbo(
            view, x, index=torch.arange(len(x)), data_batch_size=batch_size
        )  # (N,)
        return {"elbo": float(scores.mean())}

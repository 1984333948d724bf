"""The generative half of a sigmoid belief network, shared by its two posteriors: prior, decoder, enumeration, fitting q."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..densities import kl_bernoulli, log_bernoulli
from ..estimators import leave_one_out, score_function_term
from ..mean_field import FittedPosterior, optimise_logits
from ..nets import mlp
from ..protocol import (
    LatentVariableModel,
    check_batch,
    check_latent,
    check_positive_int,
    check_widths,
)
from ..samplers import all_binary_states, sample_bernoulli

__all__ = ["MAX_ENUMERATION_DIM"]

MAX_ENUMERATION_DIM = 20
"""Largest :math:`|z|` whose :math:`2^{|z|}` states :meth:`exact_log_likelihood` will enumerate
(about a million states; time and the per-chunk work grow as :math:`2^{|z|}`)."""

_STATES_PER_CHUNK = 2**12  # latent states decoded at once during enumeration


def _check_num_samples(num_samples) -> int:
    num_samples = check_positive_int(num_samples, "num_samples")
    if num_samples < 2:
        raise ValueError(
            f"num_samples must be at least 2 for the leave-one-out baseline, got {num_samples}"
        )
    return num_samples


class _SBNBase(LatentVariableModel):
    r"""What every sigmoid belief network of the course shares: the generative model.

    .. math:: p_\theta(z) = \prod_j \mathcal{B}(z_j; \operatorname{sigmoid}(a_j)), \qquad
              p_\theta(x \mid z) = \prod_d \mathcal{B}(x_d; \operatorname{sigmoid}(\ell_\theta(z)_d))

    with :math:`\ell_\theta(z) = Wz + b` (the classic linear SBN) or a one-hidden-layer
    network. Subclasses add the variational family :math:`q`.
    """

    def _build_generative(
        self, x_dim: int, z_dim: int, hidden: Sequence[int], activation: str
    ) -> None:
        self.x_dim, self.z_dim = (
            check_positive_int(x_dim, "x_dim"),
            check_positive_int(z_dim, "z_dim"),
        )
        if len(check_widths(hidden)) > 1:
            raise ValueError(
                f"the SBN decoder has at most one hidden layer, got hidden={list(hidden)}"
            )
        self.prior_logits = nn.Parameter(
            torch.zeros(z_dim)
        )  # a_j: p(z_j = 1) = sigmoid(a_j)
        self.decoder = mlp((z_dim, *hidden, x_dim), activation)

    @property
    def is_linear(self) -> bool:
        """Whether the decoder is the classic linear map :math:`Wz + b`."""
        return len(self.decoder) == 1

    @torch.no_grad()
    def init_output_bias(self, x: torch.Tensor, eps: float = 1e-3) -> None:
        """Set the decoder's output bias to the logits of the pixel means of ``x`` (a common, faster start)."""
        check_batch(x, self.x_dim)
        self.decoder[-1].bias.copy_(torch.logit(x.mean(0).clamp(eps, 1 - eps)))

    def generative_parameters(self) -> list[nn.Parameter]:
        r""":math:`\theta`: the prior logits and the decoder's weights."""
        return [self.prior_logits, *self.decoder.parameters()]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits :math:`\\ell_\\theta(z)`, shape ``(..., D)``."""
        return self.decoder(check_latent(z, self.z_dim))

    def sample_latent(
        self, n: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``n`` binary draws from the prior :math:`p_\\theta(z)`, shape ``(n, Dz)``."""
        return sample_bernoulli(self.prior_logits.expand(n, self.z_dim), 1, generator)[
            0
        ]  # (n, Dz)

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """:math:`\\log p_\\theta(z)` summed over latents, shape ``z.shape[:-1]``."""
        return log_bernoulli(z, self.prior_logits)

    def elbo_surrogate(self, x: torch.Tensor, q_logits: torch.Tensor, num_samples: int):
        r"""A differentiable stand-in for the mean-field ELBO of a factorised Bernoulli :math:`q`.

        .. math:: \mathcal{L}(x; \theta, \phi) = \mathbb{E}_{q_\ell}[\log p_\theta(x \mid z)]
                  - \mathrm{KL}(q_\ell \,\|\, p_\theta(z)), \qquad q_\ell(z) = \prod_j \mathcal{B}(z_j; \operatorname{sigmoid}(\ell_j))

        The KL term is analytic. :math:`\mathbb{E}_q[\log p(x \mid z)]` has no closed form (it
        holds :math:`\mathbb{E}_q[\log(1 + e^{\ell(z)})]`), so it is estimated from ``num_samples``
        draws; its gradient with respect to :math:`\theta` is the plain sample mean, and with
        respect to :math:`\ell` the score-function estimator with the leave-one-out baseline
        (:func:`~vaecourse.estimators.leave_one_out`).

        Args:
            x: ``(B, D)`` binary data.
            q_logits: :math:`\ell`, ``(B, Dz)``.
            num_samples: :math:`K \ge 2`.

        Returns:
            ``(surrogate, elbo)``, each ``(B,)``: differentiate the first; the second is the
            (detached) Monte Carlo ELBO estimate.
        """
        z = sample_bernoulli(q_logits, num_samples)  # (K, B, Dz)
        log_px_z = log_bernoulli(x, self.decode(z))  # (K, B)
        log_qz = log_bernoulli(
            z, q_logits
        )  # (K, B), carries the gradient to the logits
        kl = kl_bernoulli(q_logits, self.prior_logits)  # (B,)
        score = score_function_term(
            log_px_z, log_qz, leave_one_out(log_px_z.detach())
        ).mean(0)  # (B,)
        surrogate = log_px_z.mean(0) + score - kl
        return surrogate, (log_px_z.mean(0) - kl).detach()

    def log_weights_given_q(
        self, x: torch.Tensor, q_logits: torch.Tensor, num_samples: int = 1
    ) -> torch.Tensor:
        """:math:`\\log p(x, z_k) - \\log q_\\ell(z_k)` with :math:`z_k \\sim q_\\ell`, shape ``(K, B)``."""
        check_batch(x, self.x_dim)
        if q_logits.shape != (x.shape[0], self.z_dim):
            raise ValueError(
                f"q_logits must have shape ({x.shape[0]}, {self.z_dim}), got {tuple(q_logits.shape)}"
            )
        z = sample_bernoulli(q_logits, num_samples)  # (K, B, Dz)
        log_px_z = log_bernoulli(x, self.decode(z))  # (K, B)
        return log_px_z + self.log_prior(z) - log_bernoulli(z, q_logits)

    @torch.no_grad()
    def exact_log_likelihood(
        self, x: torch.Tensor, states_per_chunk: int = _STATES_PER_CHUNK
    ) -> torch.Tensor:
        r"""Exact :math:`\log p_\theta(x) = \log \sum_{z \in \{0,1\}^{D_z}} p_\theta(z)\, p_\theta(x \mid z)` by enumeration.

        The :math:`2^{D_z}` states are decoded in chunks and folded in with a running
        ``logaddexp``, so memory stays bounded while time grows as :math:`2^{D_z}`.
        For the linear decoder :math:`\sum_d x_d \ell_d(z) = z^\top W^\top x + b^\top x`, so the
        data enter through a :math:`(B, D_z)` product and only :math:`\sum_d \log(1 + e^{\ell_d(z)})`
        is computed per state.

        Args:
            x: ``(B, D)`` binary data.

        Returns:
            ``(B,)`` in nats.

        Raises:
            ValueError: :math:`D_z` above :data:`MAX_ENUMERATION_DIM`.
        """
        check_batch(x, self.x_dim)
        if self.z_dim > MAX_ENUMERATION_DIM:
            raise ValueError(
                f"exact enumeration visits 2^{self.z_dim} latent states; it is limited to z_dim <= "
                f"{MAX_ENUMERATION_DIM} (2^{MAX_ENUMERATION_DIM} states). Use an importance-weighted estimate instead"
            )
        x = x.to(self.device)
        total = torch.full((x.shape[0],), -float("inf"), dtype=x.dtype, device=x.device)
        if self.is_linear:
            linear = self.decoder[0]
            xw = x @ linear.weight  # (B, Dz): W^T x per example
            xb = x @ linear.bias  # (B,)
        for start in range(0, 2**self.z_dim, states_per_chunk):
            z = all_binary_states(
                self.z_dim,
                start,
                min(start + states_per_chunk, 2**self.z_dim),
                dtype=x.dtype,
                device=x.device,
            )  # (S, Dz)
            logits = self.decode(z)  # (S, D)
            if self.is_linear:
                x_dot_logits = xw @ z.T + xb[:, None]  # (B, S)
            else:
                x_dot_logits = x @ logits.T  # (B, S)
            log_px_z = x_dot_logits - F.softplus(logits).sum(
                -1
            )  # (B, S): sum_d x_d l_d - log(1 + e^{l_d})
            log_joint = log_px_z + self.log_prior(z)  # (B, S)
            total = torch.logaddexp(total, torch.logsumexp(log_joint, dim=1))
        return total

    def fit_posterior(
        self,
        x: torch.Tensor,
        steps: int = 100,
        num_samples: int = 8,
        lr: float = 0.1,
        init: torch.Tensor | None = None,
        batch_size: int = 2000,
    ) -> torch.Tensor:
        r"""Fit one mean-field :math:`q_\ell` per row of ``x`` with the generative model frozen.

        Maximises :math:`\mathcal{L}(x; \theta, \phi)` over :math:`\ell` alone by ``steps`` Adam steps
        of the leave-one-out score-function gradient; :math:`\theta` receives no gradient.

        Args:
            x: ``(N, D)`` binary data (e.g. the test set).
            steps: gradient steps per example.
            num_samples: :math:`K` draws per step.
            lr: Adam step size on the logits.
            init: optional ``(N, Dz)`` starting logits (default: the prior's logits).
            batch_size: examples optimised together (bounds memory, not the result).

        Returns:
            ``(N, Dz)`` fitted logits :math:`\ell`, detached, on the model's device.
        """
        check_batch(x, self.x_dim)
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
        x = x.to(self.device)
        if init is None:
            init = self.prior_logits.detach().expand(x.shape[0], self.z_dim)
        elif init.shape != (x.shape[0], self.z_dim):
            raise ValueError(
                f"init must have shape ({x.shape[0]}, {self.z_dim}), got {tuple(init.shape)}"
            )
        out = []
        for a in range(0, x.shape[0], batch_size):
            lam = init[a : a + batch_size].detach().clone().to(self.device)
            optimise_logits(
                self.decode,
                self.prior_logits,
                x[a : a + batch_size],
                lam,
                steps,
                num_samples,
                lr,
            )
            out.append(lam.detach())
        return torch.cat(out)

    def posterior_view(
        self, x: torch.Tensor, steps: int = 100, **fit_kwargs
    ) -> FittedPosterior:
        """Fit :math:`q` for new data ``x`` (:meth:`fit_posterior`) and return a frozen scoring view.

        The view has ``log_weights(x, num_samples, index)``, so :func:`vaecourse.evaluate.elbo` and
        :func:`~vaecourse.evaluate.iw_log_likelihood` score it like any other model: pass
        ``index=torch.arange(len(x))`` when ``x`` is scored in several chunks.
        """
        return FittedPosterior(self, x, self.fit_posterior(x, steps, **fit_kwargs))

"""Sigmoid belief networks: binary latents, a mean-field posterior per data point, and an amortised twin."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .densities import kl_bernoulli, log_bernoulli
from .estimators import leave_one_out, score_function_term
from .evaluate import elbo as evaluate_elbo
from .mean_field import FittedPosterior, mean_field_gradient, optimise_logits
from .nets import mlp
from .protocol import (
    LatentVariableModel,
    check_batch,
    check_latent,
    check_positive,
    check_positive_int,
    check_widths,
)
from .samplers import all_binary_states, sample_bernoulli

__all__ = [
    "SigmoidBeliefNet",
    "AmortisedSBN",
    "FittedPosterior",
    "MAX_ENUMERATION_DIM",
    "all_binary_states",
    "mean_field_gradient",
]

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


class AmortisedSBN(_SBNBase):
    r"""The same sigmoid belief network with an amortised posterior :math:`q_\phi(z \mid x)` (an encoder).

    The generative model is :class:`SigmoidBeliefNet`'s; the variational logits come from one network,
    :math:`\ell = e_\phi(x)`, shared by every data point. Encoder :math:`\phi` and decoder
    :math:`\theta` move together, from the same minibatch gradient (a VAE with binary latents;
    the encoder's gradient is the leave-one-out score-function estimator).

    Comparing :meth:`elbo` under the encoder's :math:`q` with the ELBO under per-example optimised
    logits (:meth:`fit_posterior`, initialised at the encoder's output) on one decoder measures the
    amortisation gap (Cremer et al., 2018).

    Args:
        x_dim, z_dim, hidden, activation: as :class:`SigmoidBeliefNet` (the decoder).
        encoder_hidden: the encoder's hidden widths.
        num_samples: :math:`K` draws per gradient estimate (K >= 2).

    >>> sbn = AmortisedSBN(x_dim=6, z_dim=3, encoder_hidden=(5,))
    >>> sbn.log_weights(torch.ones(2, 6), 4).shape
    torch.Size([4, 2])
    """

    def __init__(
        self,
        x_dim: int,
        z_dim: int,
        hidden: Sequence[int] = (),
        activation: str = "tanh",
        encoder_hidden: Sequence[int] = (200,),
        num_samples: int = 5,
    ):
        super().__init__()
        self._build_generative(x_dim, z_dim, hidden, activation)
        self.num_samples = _check_num_samples(num_samples)
        encoder_hidden = check_widths(encoder_hidden, "encoder_hidden")
        self.config = dict(
            x_dim=self.x_dim,
            z_dim=self.z_dim,
            hidden=check_widths(hidden),
            activation=activation,
            encoder_hidden=encoder_hidden,
            num_samples=self.num_samples,
        )
        self.encoder = mlp((x_dim, *encoder_hidden, z_dim), activation)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Variational logits :math:`\\ell = e_\\phi(x)`, shape ``(B, Dz)``."""
        return self.encoder(check_batch(x, self.x_dim))

    def log_weights(
        self, x: torch.Tensor, num_samples: int = 1, index: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``(K, B)`` log weights under the encoder's :math:`q_\\phi(z \\mid x)` (``index`` is not needed)."""
        return self.log_weights_given_q(x, self.encode(x), num_samples)

    def training_loss(self, x: torch.Tensor, index: torch.Tensor | None = None):
        """Negative mean ELBO surrogate; its gradient moves :math:`\\theta` and :math:`\\phi` together."""
        surrogate, elbo = self.elbo_surrogate(x, self.encode(x), self.num_samples)
        return -surrogate.mean(), dict(elbo=elbo.mean())

"""The variational auto-encoder with binary latents, trained with score-function gradients."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from .densities import kl_bernoulli, log_bernoulli
from .estimators import (
    BASELINES,
    RELAXATIONS,
    Baseline,
    fit_baseline,
    gradient_variance,
    make_baseline,
    relaxed_sample,
    score_function_term,
)
from .nets import mlp
from .protocol import (
    LatentVariableModel,
    check_batch,
    check_latent,
    check_positive_int,
    check_widths,
)
from .samplers import all_binary_states, sample_bernoulli

__all__ = [
    "BernoulliVAE",
    "sample_bernoulli",
    "all_binary_states",
    "encoder_gradient_variance",
]

MAX_ENUMERATED_LATENTS = 16
"""Largest :math:`D_z` whose :math:`2^{D_z}` states :meth:`BernoulliVAE.exact_elbo` decodes at once."""


class BernoulliVAE(LatentVariableModel):
    r"""VAE with :math:`D_z` binary latents: :math:`p(z) = \prod_j \mathcal{B}(z_j; \tfrac12)`,
    :math:`q_\phi(z \mid x) = \prod_j \mathcal{B}(z_j; \operatorname{sigmoid}(\ell_\phi(x)_j))` and a Bernoulli decoder
    :math:`p_\theta(x \mid z) = \prod_d \mathcal{B}(x_d; \operatorname{sigmoid}(\ell_\theta(z)_d))`, with :math:`z \in \{0, 1\}^{D_z}`.

    The ELBO :math:`\mathbb{E}_q[\log p_\theta(x \mid z)] - \mathrm{KL}(q_\phi \,\|\, p)` is trained with
    :math:`K` samples per example and the surrogate

    .. math:: \frac1K \sum_k \Big[\log p_\theta(x \mid z_k)
              + \big(\log p_\theta(x \mid z_k) - c_k\big)_{\text{detached}} \log q_\phi(z_k \mid x)\Big]
              - \mathrm{KL}(q_\phi \,\|\, p),

    whose gradient is the direct gradient for the decoder :math:`\theta`, the score-function
    estimate (with baseline :math:`c`) for the encoder :math:`\phi`, plus the exact gradient of the
    analytic KL. A learned baseline lives in the model (``self.baseline``) and is trained by the
    same optimiser through the squared error added to the loss.

    Args:
        x_dim: :math:`D`, pixels per image.
        z_dim: :math:`D_z`, binary latents.
        hidden: encoder hidden widths; the decoder mirrors them.
        activation: hidden activation.
        estimator: the baseline of the encoder's score-function gradient, one of
            :data:`vaecourse.estimators.BASELINES` (``"loo"`` needs ``num_samples >= 2``), or a
            relaxation, one of :data:`vaecourse.estimators.RELAXATIONS` (:meth:`relaxed_surrogate`).
        num_samples: :math:`K`, samples of :math:`z` per example in the training loss.
        temperature: :math:`\tau` of a relaxation (``self.temperature`` may be annealed in training).

    >>> vae = BernoulliVAE(x_dim=6, z_dim=3, hidden=(5,), num_samples=2)
    >>> x = torch.ones(4, 6)
    >>> vae.log_weights(x, num_samples=8).shape
    torch.Size([8, 4])
    >>> bool((vae.exact_elbo(x) <= vae.exact_log_likelihood(x)).all())  # ELBO <= log p(x)
    True
    """

    def __init__(
        self,
        x_dim: int,
        z_dim: int = 64,
        hidden: Sequence[int] = (200,),
        activation: str = "relu",
        estimator: str = "loo",
        num_samples: int = 4,
        temperature: float = 1.0,
    ):
        super().__init__()
        if estimator not in BASELINES + RELAXATIONS:
            raise ValueError(
                f"estimator must be one of {BASELINES + RELAXATIONS}, got {estimator!r}"
            )
        if (
            isinstance(temperature, bool)
            or not isinstance(temperature, (int, float))
            or not temperature > 0
            or temperature == float("inf")
        ):
            raise ValueError(
                f"temperature must be a finite positive number, got {temperature!r}"
            )
        self.x_dim, self.z_dim = (
            check_positive_int(x_dim, "x_dim"),
            check_positive_int(z_dim, "z_dim"),
        )
        self.num_samples = check_positive_int(num_samples, "num_samples")
        if estimator == "loo" and num_samples < 2:
            raise ValueError("the leave-one-out baseline needs num_samples >= 2")
        hidden = check_widths(hidden)
        self.config = dict(
            x_dim=self.x_dim,
            z_dim=self.z_dim,
            hidden=hidden,
            activation=activation,
            estimator=estimator,
            num_samples=self.num_samples,
        )
        if (
            estimator in RELAXATIONS
        ):  # only there, so that score-function checkpoints stay valid
            self.config["temperature"] = float(temperature)
        self.temperature = float(temperature)
        self.estimator = estimator
        self.encoder = mlp((x_dim, *hidden, z_dim), activation)
        self.decoder = mlp((z_dim, *reversed(list(hidden)), x_dim), activation)
        self.baseline = make_baseline(
            estimator if estimator in BASELINES else "none", x_dim
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        r"""The logits :math:`\ell_\phi(x)` of :math:`q_\phi(z \mid x)`, shape ``(B, Dz)``."""
        check_batch(x, self.x_dim)
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        r"""Bernoulli logits :math:`\ell_\theta(z)`, shape ``(..., D)``."""
        return self.decoder(check_latent(z, self.z_dim))

    def sample_latent(
        self, n: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        r"""``n`` draws from the prior :math:`\mathcal{B}(\tfrac12)^{D_z}`, shape ``(n, Dz)``, values in {0, 1}."""
        logits = torch.zeros(
            n, self.z_dim, dtype=self.dtype, device=self.device
        )  # sigmoid(0) = 1/2
        return sample_bernoulli(logits, 1, generator)[0]

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        r""":math:`\log p(z) = -D_z \log 2` for every binary :math:`z`, shape ``z.shape[:-1]``."""
        return torch.full(
            z.shape[:-1], -self.z_dim * math.log(2.0), dtype=z.dtype, device=z.device
        )

    def log_weights(
        self, x: torch.Tensor, num_samples: int = 1, index: torch.Tensor | None = None
    ) -> torch.Tensor:
        r""":math:`\log p(x \mid z_k) + \log p(z_k) - \log q(z_k \mid x)` for :math:`z_k \sim q`, shape ``(K, B)``."""
        logits_q = self.encode(x)  # (B, Dz)
        z = sample_bernoulli(logits_q, num_samples)  # (K, B, Dz)
        return (
            log_bernoulli(x, self.decode(z))
            + self.log_prior(z)
            - log_bernoulli(z, logits_q)
        )

    def surrogate(
        self,
        x: torch.Tensor,
        baseline: Baseline | None = None,
        num_samples: int | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The loss whose gradient is the score-function estimate of the negative ELBO's gradient.

        Args:
            x: ``(B, D)`` batch.
            baseline: the :class:`~vaecourse.estimators.Baseline` to use (default: the model's own);
                chapter 6 passes others to compare them at the same parameters.
            num_samples: :math:`K` (default: the model's).

        Returns:
            ``(loss, stats)``: the scalar to minimise (including a learned baseline's squared
            error) and detached statistics ``elbo``, ``recon``, ``kl``, ``signal_std``.
        """
        baseline = self.baseline if baseline is None else baseline
        num_samples = self.num_samples if num_samples is None else num_samples
        logits_q = self.encode(x)  # (B, Dz)
        z = sample_bernoulli(logits_q, num_samples)  # (K, B, Dz)
        log_qz_x = log_bernoulli(z, logits_q)  # (K, B), differentiable in phi
        log_px_z = log_bernoulli(x, self.decode(z))  # (K, B), differentiable in theta
        c, baseline_loss = baseline(x, log_px_z.detach())
        kl = kl_bernoulli(logits_q)  # (B,)
        objective = (log_px_z + score_function_term(log_px_z, log_qz_x, c)).mean(
            0
        ) - kl  # (B,)
        recon = log_px_z.mean(0).detach()
        stats = dict(
            elbo=(recon - kl.detach()).mean(),
            recon=recon.mean(),
            kl=kl.mean().detach(),
            signal_std=(log_px_z.detach() - c).std()
            if num_samples > 1
            else log_px_z.detach().std(),
        )
        return -objective.mean() + baseline_loss, stats

    def relaxed_surrogate(
        self,
        x: torch.Tensor,
        estimator: str | None = None,
        temperature: float | None = None,
        num_samples: int | None = None,
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        r"""The loss whose gradient is a relaxation-based estimate of the negative ELBO's gradient.

        .. math:: -\frac1K \sum_k \log p_\theta(x \mid \tilde z_k) + \mathrm{KL}(q_\phi \,\|\, p),
                  \qquad \tilde z_k = \tilde z(\ell_\phi(x), u_k, \tau)

        with :math:`\tilde z_k` from :func:`~vaecourse.estimators.relaxed_sample` (relaxed, or binary
        with the relaxed gradient); the gradient flows through the samples to the encoder.

        Args:
            x: ``(B, D)`` batch.
            estimator, temperature, num_samples: default to the model's own.

        Returns:
            ``(loss, stats)`` as :meth:`surrogate`; ``recon`` is evaluated at the samples used.
        """
        estimator = self.estimator if estimator is None else estimator
        temperature = self.temperature if temperature is None else temperature
        num_samples = self.num_samples if num_samples is None else num_samples
        logits_q = self.encode(x)  # (B, Dz)
        z = relaxed_sample(
            logits_q, estimator, temperature, num_samples
        )  # (K, B, Dz), differentiable
        log_px_z = log_bernoulli(
            x, self.decode(z)
        )  # (K, B), differentiable in theta and phi
        kl = kl_bernoulli(logits_q)  # (B,)
        recon = log_px_z.mean(0).detach()
        stats = {
            "elbo": (recon - kl.detach()).mean(),
            "recon": recon.mean(),
            "kl": kl.mean().detach(),
        }
        return -(log_px_z.mean(0) - kl).mean(), stats

    def training_loss(self, x: torch.Tensor, index: torch.Tensor | None = None):
        """:meth:`surrogate` with the model's own baseline and :math:`K`, or :meth:`relaxed_surrogate`."""
        if self.estimator in RELAXATIONS:
            return self.relaxed_surrogate(x)
        return self.surrogate(x)

    def _all_states(self) -> torch.Tensor:
        if self.z_dim > MAX_ENUMERATED_LATENTS:
            raise ValueError(
                f"can enumerate at most {MAX_ENUMERATED_LATENTS} binary latents (2**z_dim states "
                f"decoded at once), this model has z_dim={self.z_dim}"
            )
        return all_binary_states(
            self.z_dim, dtype=self.dtype, device=self.device
        ).unsqueeze(1)  # (S, 1, Dz)

    def exact_elbo(self, x: torch.Tensor) -> torch.Tensor:
        r"""The ELBO by enumerating all :math:`2^{D_z}` states (small :math:`D_z` only), differentiable.

        .. math:: \mathcal{L}(x; \theta, \phi) = \sum_{z \in \{0,1\}^{D_z}} q_\phi(z \mid x) \log \frac{p(z)\, p_\theta(x \mid z)}{q_\phi(z \mid x)}

        Its gradient is the exact gradient that the score-function estimates average to.

        Returns:
            ``(B,)``.
        """
        z = self._all_states()  # (S, 1, Dz)
        logits_q = self.encode(x)  # (B, Dz)
        log_qz_x = log_bernoulli(z, logits_q)  # (S, B)
        log_w = (
            log_bernoulli(x, self.decode(z)) + self.log_prior(z) - log_qz_x
        )  # (S, B)
        return (log_qz_x.exp() * log_w).sum(0)

    @torch.no_grad()
    def exact_log_likelihood(self, x: torch.Tensor) -> torch.Tensor:
        r""":math:`\log p(x) = \log \sum_z p(z)\, p_\theta(x \mid z)` by enumeration (small :math:`D_z` only), ``(B,)``."""
        check_batch(x, self.x_dim)
        z = self._all_states()  # (S, 1, Dz)
        log_joint = log_bernoulli(x, self.decode(z)) + self.log_prior(z)  # (S, B)
        return torch.logsumexp(log_joint, dim=0)


def encoder_gradient_variance(
    model: BernoulliVAE,
    x: torch.Tensor,
    baseline: str | Baseline,
    num_samples: int = 4,
    num_draws: int = 100,
    calibration_samples: int = 64,
):
    """Mean and variance of the encoder's gradient estimates under one baseline, at the model's current parameters.

    A baseline given by name is built and calibrated first (:func:`~vaecourse.estimators.fit_baseline`
    on ``calibration_samples`` draws of the signal), so that every baseline is compared in the
    state it would settle into if the parameters stopped moving. The model is left unchanged.

    Args:
        model: a :class:`BernoulliVAE`.
        x: ``(B, D)`` the batch whose gradient is measured.
        baseline: a name from :data:`vaecourse.estimators.BASELINES`, or a :class:`Baseline`.
        num_samples: :math:`K`, samples per example in each estimate.
        num_draws: estimates drawn.

    Returns:
        A :class:`~vaecourse.estimators.GradientStats` over the encoder's parameters.
    """
    if not isinstance(model, BernoulliVAE):
        raise TypeError(f"model must be a BernoulliVAE, got {type(model).__name__}")
    was_training = model.training
    model.eval()
    if isinstance(baseline, str):
        baseline = make_baseline(baseline, model.x_dim).to(x.device)
        with torch.no_grad():
            z = sample_bernoulli(model.encode(x), calibration_samples)  # (S, B, Dz)
            signal = log_bernoulli(x, model.decode(z))  # (S, B)
        fit_baseline(baseline, x, signal)
    baseline.eval()
    params = list(model.encoder.parameters())
    try:
        return gradient_variance(
            lambda: model.surrogate(x, baseline, num_samples)[0], params, num_draws
        )
    finally:
        model.train(was_training)

"""Probabilistic PCA: a latent-variable model whose marginal and posterior are exact."""

from __future__ import annotations

import math

import torch
from torch import nn

from .densities import log_normal, log_standard_normal
from .protocol import (
    LatentVariableModel,
    check_batch,
    check_positive,
    check_positive_int,
)
from .samplers import reparameterize

__all__ = ["ProbabilisticPCA", "kl_normal_diag_full"]


def kl_normal_diag_full(mu_q, log_sigma_q, mu_p, cov_p):
    r"""Closed-form :math:`\mathrm{KL}(\mathcal{N}(\mu_q, \mathrm{diag}\,\sigma_q^2) \,\|\, \mathcal{N}(\mu_p, \Sigma_p))`.

    .. math:: \tfrac12\Big[\mathrm{tr}(\Sigma_p^{-1}\Sigma_q) + (\mu_p - \mu_q)^\top \Sigma_p^{-1} (\mu_p - \mu_q)
              - D_z + \log\det\Sigma_p - \log\det\Sigma_q\Big]

    Args:
        mu_q, log_sigma_q: ``(B, Dz)``.
        mu_p: ``(B, Dz)``.
        cov_p: ``(Dz, Dz)``, shared by the batch.

    Returns:
        ``(B,)``.
    """
    dz = mu_q.shape[-1]
    chol = torch.linalg.cholesky(cov_p)
    prec = torch.cholesky_inverse(chol)  # (Dz, Dz)
    var_q = torch.exp(2 * log_sigma_q)  # (B, Dz)
    diff = mu_p - mu_q  # (B, Dz)
    trace = (torch.diagonal(prec) * var_q).sum(-1)
    maha = ((diff @ prec) * diff).sum(-1)
    logdet_p = 2 * torch.log(torch.diagonal(chol)).sum()
    logdet_q = 2 * log_sigma_q.sum(-1)
    return 0.5 * (trace + maha - dz + logdet_p - logdet_q)


class ProbabilisticPCA(LatentVariableModel):
    r"""Probabilistic PCA: :math:`z \sim \mathcal{N}(0, I)`, :math:`x \mid z \sim \mathcal{N}(Wz + b, s^2 I)`.

    Everything is exact: the marginal :math:`p(x) = \mathcal{N}(b, WW^\top + s^2 I)` and the
    posterior :math:`p(z \mid x) = \mathcal{N}(M^{-1}W^\top(x - b),\, s^2 M^{-1})` with
    :math:`M = W^\top W + s^2 I`. With a diagonal Gaussian :math:`q(z \mid x)` the ELBO is also
    available in closed form, so the identity
    :math:`\log p(x) - \mathrm{KL}(q \,\|\, p(z \mid x)) = \mathrm{ELBO}(q)` can be checked to
    machine precision. The variational family is a linear amortised encoder
    :math:`q(z \mid x) = \mathcal{N}(A(x - b), \mathrm{diag}\, e^{2 c})`; :meth:`set_q_to_posterior`
    moves it to the best diagonal approximation.

    Args:
        x_dim, z_dim: :math:`D` and :math:`D_z`.
        noise_scale: :math:`s`.
        dtype: parameter dtype (``torch.float64`` for precision checks).
    """

    def __init__(
        self, x_dim: int, z_dim: int, noise_scale: float = 0.5, dtype: str = "float64"
    ):
        super().__init__()
        self.x_dim, self.z_dim = (
            check_positive_int(x_dim, "x_dim"),
            check_positive_int(z_dim, "z_dim"),
        )
        noise_scale = check_positive(noise_scale, "noise_scale")
        if dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        self.config = dict(
            x_dim=self.x_dim, z_dim=self.z_dim, noise_scale=noise_scale, dtype=dtype
        )
        dt = getattr(torch, dtype)
        self.W = nn.Parameter(torch.randn(x_dim, z_dim, dtype=dt))
        self.b = nn.Parameter(torch.randn(x_dim, dtype=dt) * 0.1)
        self.log_s = nn.Parameter(torch.tensor(math.log(noise_scale), dtype=dt))
        self.A = nn.Parameter(torch.zeros(z_dim, x_dim, dtype=dt))  # q's mean map
        self.q_log_sigma = nn.Parameter(
            torch.zeros(z_dim, dtype=dt)
        )  # q's log standard deviations

    def _check(self, x):
        return check_batch(x, self.x_dim)

    def check_data(self, x, name: str = "x") -> torch.Tensor:
        """Check a data set: shape ``(N, x_dim)`` and finite values (a Gaussian likelihood), in the model's dtype."""
        x = check_batch(x, self.x_dim, name)
        if not bool(torch.isfinite(x).all()):
            raise ValueError(
                f"{name} holds NaN or infinite values; a Gaussian likelihood needs finite data"
            )
        return x.to(self.dtype)

    def log_marginal(self, x: torch.Tensor) -> torch.Tensor:
        """Exact :math:`\\log p(x)`, shape ``(B,)``."""
        x = self._check(x)
        cov = self.W @ self.W.T + torch.exp(2 * self.log_s) * torch.eye(
            self.x_dim, dtype=x.dtype, device=x.device
        )
        dist = torch.distributions.MultivariateNormal(self.b, covariance_matrix=cov)
        return dist.log_prob(x)

    def posterior(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact posterior: mean ``(B, Dz)`` and covariance ``(Dz, Dz)``."""
        x = self._check(x)
        s2 = torch.exp(2 * self.log_s)
        M = self.W.T @ self.W + s2 * torch.eye(
            self.z_dim, dtype=x.dtype, device=x.device
        )
        mean = torch.linalg.solve(M, self.W.T @ (x - self.b).T).T  # (B, Dz)
        return mean, s2 * torch.linalg.inv(M)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Parameters of :math:`q(z \\mid x)`: ``(mu, log_sigma)``, each ``(B, Dz)``."""
        x = self._check(x)
        mu = (x - self.b) @ self.A.T
        return mu, self.q_log_sigma.expand_as(mu)

    @torch.no_grad()
    def set_q_to_posterior(self, blend: float = 1.0) -> None:
        """Move q towards the best diagonal Gaussian: mean map :math:`M^{-1}W^\\top`, scales from
        :math:`1/\\mathrm{diag}(\\Sigma^{-1})`. ``blend`` in [0, 1] interpolates from the prior (0)."""
        if not 0.0 <= blend <= 1.0:
            raise ValueError(f"blend must lie in [0, 1], got {blend}")
        s2 = torch.exp(2 * self.log_s)
        M = self.W.T @ self.W + s2 * torch.eye(
            self.z_dim, dtype=self.W.dtype, device=self.W.device
        )
        self.A.copy_(blend * torch.linalg.solve(M, self.W.T))
        # the KL-optimal diagonal q has variances 1 / diag(precision) = s^2 / diag(M)
        best_log_sigma = 0.5 * torch.log(s2 / torch.diagonal(M))
        self.q_log_sigma.copy_(blend * best_log_sigma)

    def log_joint(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """:math:`\\log p(x \\mid z) + \\log p(z)`, with ``z`` of shape ``(..., B, Dz)``."""
        mean = z @ self.W.T + self.b  # (..., B, D)
        return log_normal(x, mean, self.log_s.expand_as(mean)) + log_standard_normal(z)

    def elbo_closed_form(self, x: torch.Tensor) -> torch.Tensor:
        r"""Exact ELBO of the current q: :math:`\mathbb{E}_q[\log p(x \mid z)] - \mathrm{KL}(q \,\|\, p(z))`, ``(B,)``."""
        mu, log_sigma = self.encode(x)
        s2 = torch.exp(2 * self.log_s)
        var_q = torch.exp(2 * log_sigma)
        resid = x - self.b - mu @ self.W.T  # (B, D)
        # E_q ||x - b - Wz||^2 = ||x - b - W mu||^2 + sum_j var_j ||W_{:, j}||^2
        sq = (resid**2).sum(-1) + (var_q * (self.W**2).sum(0)).sum(-1)
        e_log_px_z = -0.5 * self.x_dim * torch.log(2 * math.pi * s2) - 0.5 * sq / s2
        kl_prior = 0.5 * (mu**2 + var_q - 1 - 2 * log_sigma).sum(-1)
        return e_log_px_z - kl_prior

    def kl_to_posterior(self, x: torch.Tensor) -> torch.Tensor:
        """Exact :math:`\\mathrm{KL}(q(z \\mid x) \\,\\|\\, p(z \\mid x))`, ``(B,)``."""
        mu, log_sigma = self.encode(x)
        post_mean, post_cov = self.posterior(x)
        return kl_normal_diag_full(mu, log_sigma, post_mean, post_cov)

    def log_weights(
        self, x: torch.Tensor, num_samples: int = 1, index: torch.Tensor | None = None
    ) -> torch.Tensor:
        """:math:`\\log p(x, z_k) - \\log q(z_k \\mid x)` for :math:`z_k \\sim q`, shape ``(K, B)``."""
        mu, log_sigma = self.encode(x)
        z = reparameterize(mu, log_sigma, num_samples)  # (K, B, Dz)
        return self.log_joint(x, z) - log_normal(z, mu, log_sigma)

    def training_loss(self, x: torch.Tensor, index: torch.Tensor | None = None):
        elbo = self.elbo_closed_form(x)
        return -elbo.mean(), dict(elbo=elbo.mean().detach())

    def sample_latent(
        self, n: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        return torch.randn(n, self.z_dim, generator=generator, dtype=self.W.dtype).to(
            self.device
        )

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The mean :math:`Wz + b` of :math:`p(x \\mid z)` (a Gaussian mean, not Bernoulli logits)."""
        return z @ self.W.T + self.b

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        """The mean of :math:`p(x \\mid z)`; for a Gaussian decoder it is also the mode."""
        return self.decode(z)

    decode_mode = decode_mean

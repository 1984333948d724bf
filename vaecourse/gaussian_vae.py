"""The variational auto-encoder with Gaussian latents and a Bernoulli decoder."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .densities import kl_normal_standard, log_bernoulli, log_mean_exp, log_normal, log_standard_normal
from .nets import mlp
from .protocol import LatentVariableModel, check_batch

__all__ = ["GaussianVAE", "reparameterize"]


def reparameterize(mu: torch.Tensor, log_sigma: torch.Tensor, num_samples: int = 1,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Draw :math:`z = \mu + \sigma \odot \varepsilon`, :math:`\varepsilon \sim \mathcal{N}(0, I)`.

    The randomness sits in :math:`\varepsilon`, which does not depend on the
    parameters, so gradients flow to :math:`\mu` and :math:`\log\sigma` through
    a deterministic function.

    Args:
        mu: :math:`\mu`, shape ``(B, Dz)``.
        log_sigma: :math:`\log\sigma`, shape ``(B, Dz)``.
        num_samples: :math:`K`.
        generator: optional seeded generator (on ``mu``'s device).

    Returns:
        ``(K, B, Dz)`` samples.

    >>> z = reparameterize(torch.zeros(2, 3), torch.zeros(2, 3), num_samples=4)
    >>> z.shape
    torch.Size([4, 2, 3])
    """
    if mu.shape != log_sigma.shape:
        raise ValueError(f"mu and log_sigma must have the same shape, got {tuple(mu.shape)} and {tuple(log_sigma.shape)}")
    eps = torch.randn((num_samples, *mu.shape), dtype=mu.dtype, device=mu.device, generator=generator)
    return mu + torch.exp(log_sigma) * eps  # (K, B, Dz)


class GaussianVAE(LatentVariableModel):
    r"""VAE with :math:`p(z) = \mathcal{N}(0, I)`, :math:`q_\phi(z \mid x) = \mathcal{N}(\mu_\phi(x), \sigma_\phi(x)^2)`
    and :math:`p_\theta(x \mid z) = \prod_d \mathcal{B}(x_d; \operatorname{sigmoid}(\ell_\theta(z)_d))`.

    The training objective is the reparameterised ELBO with a KL weight :math:`\beta`,

    .. math:: \mathcal{L}_\beta(x; \theta, \phi) = \mathbb{E}_{q}[\log p_\theta(x \mid z)] - \beta\, \mathrm{KL}(q_\phi(z \mid x) \,\|\, p(z)),

    with the KL term computed in closed form (``analytic_kl=True``) or by Monte
    Carlo. With ``iw_samples = K > 1`` it trains on the importance-weighted bound
    of Burda et al. (2016) instead (``beta`` must then be 1).

    Args:
        x_dim: :math:`D`, pixels per image.
        z_dim: :math:`D_z`, latent dimensions.
        hidden: widths of the encoder's hidden layers; the decoder mirrors them.
        activation: hidden activation (see :data:`vaecourse.nets.ACTIVATIONS`).
        beta: KL weight :math:`\beta` (1 gives the ELBO).
        analytic_kl: use the closed-form KL in the training loss.
        train_samples: samples of :math:`z` per example in the training loss.
        iw_samples: if above 1, train on the importance-weighted bound with this many samples.

    >>> vae = GaussianVAE(x_dim=6, z_dim=2, hidden=(5,))
    >>> vae.log_weights(torch.ones(3, 6), num_samples=4).shape
    torch.Size([4, 3])
    """

    def __init__(self, x_dim: int, z_dim: int = 20, hidden: Sequence[int] = (400,), activation: str = "relu",
                 beta: float = 1.0, analytic_kl: bool = True, train_samples: int = 1, iw_samples: int = 1):
        super().__init__()
        if beta < 0:
            raise ValueError(f"beta must be non-negative, got {beta}")
        if iw_samples > 1 and beta != 1.0:
            raise ValueError("the importance-weighted bound is defined for beta = 1 only")
        self.config = dict(x_dim=int(x_dim), z_dim=int(z_dim), hidden=[int(h) for h in hidden],
                           activation=activation, beta=float(beta), analytic_kl=bool(analytic_kl),
                           train_samples=int(train_samples), iw_samples=int(iw_samples))
        self.x_dim, self.z_dim = int(x_dim), int(z_dim)
        self.beta, self.analytic_kl = float(beta), bool(analytic_kl)
        self.train_samples, self.iw_samples = int(train_samples), int(iw_samples)
        self.encoder = mlp((x_dim, *hidden, 2 * z_dim), activation)
        self.decoder = mlp((z_dim, *reversed(list(hidden)), x_dim), activation)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The parameters of :math:`q_\\phi(z \\mid x)`: ``(mu, log_sigma)``, each ``(B, Dz)``."""
        check_batch(x, self.x_dim)
        mu, log_sigma = self.encoder(x).chunk(2, dim=-1)  # (B, Dz) each
        return mu, log_sigma

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits :math:`\\ell_\\theta(z)`, shape ``(..., D)``."""
        if z.shape[-1] != self.z_dim:
            raise ValueError(f"z must have last dimension {self.z_dim}, got shape {tuple(z.shape)}")
        return self.decoder(z)

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` draws from the prior :math:`\\mathcal{N}(0, I)`, shape ``(n, Dz)``."""
        return torch.randn(n, self.z_dim, generator=generator).to(self.device)

    def elbo_terms(self, x: torch.Tensor, num_samples: int = 1) -> dict[str, torch.Tensor]:
        """Reconstruction and KL terms of the ELBO from ``num_samples`` reparameterised draws.

        Returns a dict with ``log_px_z`` ``(K, B)``, ``kl`` ``(B,)`` (analytic) or ``(K, B)``
        (Monte Carlo, :math:`\\log q(z \\mid x) - \\log p(z)`), and ``log_pz``, ``log_qz_x`` ``(K, B)``.
        """
        mu, log_sigma = self.encode(x)  # (B, Dz) each
        z = reparameterize(mu, log_sigma, num_samples)  # (K, B, Dz)
        log_px_z = log_bernoulli(x, self.decode(z))  # (K, B)
        log_pz = log_standard_normal(z)  # (K, B)
        log_qz_x = log_normal(z, mu, log_sigma)  # (K, B)
        kl = kl_normal_standard(mu, log_sigma) if self.analytic_kl else log_qz_x - log_pz
        return dict(log_px_z=log_px_z, log_pz=log_pz, log_qz_x=log_qz_x, kl=kl)

    def log_weights(self, x: torch.Tensor, num_samples: int = 1) -> torch.Tensor:
        """:math:`\\log p(x, z_k) - \\log q(z_k \\mid x)` for ``num_samples`` draws, shape ``(K, B)``."""
        t = self.elbo_terms(x, num_samples)
        return t["log_px_z"] + t["log_pz"] - t["log_qz_x"]

    def training_loss(self, x: torch.Tensor, index: torch.Tensor | None = None):
        """Negative (beta-weighted or importance-weighted) bound, averaged over the batch."""
        if self.iw_samples > 1:
            t = self.elbo_terms(x, self.iw_samples)
            log_w = t["log_px_z"] + t["log_pz"] - t["log_qz_x"]  # (K, B)
            bound = log_mean_exp(log_w, dim=0)  # (B,)
            stats = dict(iw_bound=bound.mean().detach(), elbo=log_w.mean().detach())
            return -bound.mean(), stats
        if self.analytic_kl:
            # only the terms the loss needs: log p(z) and log q(z|x) are not formed
            mu, log_sigma = self.encode(x)  # (B, Dz) each
            z = reparameterize(mu, log_sigma, self.train_samples)  # (K, B, Dz)
            log_px_z = log_bernoulli(x, self.decode(z)).mean(0)  # (B,)
            kl = kl_normal_standard(mu, log_sigma)  # (B,)
        else:
            t = self.elbo_terms(x, self.train_samples)
            log_px_z, kl = t["log_px_z"].mean(0), t["kl"].mean(0)  # (B,) each
        loss = -(log_px_z - self.beta * kl).mean()
        stats = dict(elbo=(log_px_z - kl).mean().detach(), recon=log_px_z.mean().detach(), kl=kl.mean().detach())
        return loss, stats

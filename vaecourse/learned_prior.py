"""A Gaussian VAE whose prior is a mixture of Gaussians learned jointly with the encoder and decoder."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

from .densities import log_bernoulli, log_normal
from .nets import mlp
from .protocol import (
    LatentVariableModel,
    check_batch,
    check_latent,
    check_positive_int,
    check_widths,
)
from .samplers import reparameterize

__all__ = ["MixturePriorVAE"]


class MixturePriorVAE(LatentVariableModel):
    r"""A VAE with the learned prior :math:`p_\theta(z) = \sum_{c=1}^C \pi_c\, \mathcal{N}(z; m_c, \operatorname{diag} s_c^2)`.

    The encoder :math:`q_\phi(z \mid x) = \mathcal{N}(\mu_\phi(x), \operatorname{diag}\sigma_\phi(x)^2)`
    and the Bernoulli decoder are those of :class:`~vaecourse.gaussian_vae.GaussianVAE`. The
    mixture's weights :math:`\pi` (as logits), means :math:`m_c` and log-scales
    :math:`\log s_c` are parameters of the generative model, trained on the same ELBO

    .. math:: \mathcal{L}(x; \theta, \phi) = \mathbb{E}_{q}[\log p_\theta(x \mid z)
              + \log p_\theta(z)] + \mathbb{H}[q_\phi(z \mid x)],

    with the entropy :math:`\mathbb{H}` of the Gaussian :math:`q` in closed form and the rest
    by a reparameterised sample (the KL term to a mixture has no closed form). The means start
    as draws of :math:`\mathcal{N}(0, I)` and the scales at 1.

    Args:
        x_dim: :math:`D`, pixels per image.
        z_dim: :math:`D_z`, latent dimensions.
        hidden: widths of the encoder's hidden layers; the decoder mirrors them.
        activation: hidden activation (see :data:`vaecourse.nets.ACTIVATIONS`).
        num_components: :math:`C`, the mixture's components.

    >>> vae = MixturePriorVAE(x_dim=6, z_dim=2, hidden=(5,), num_components=3)
    >>> vae.log_weights(torch.ones(4, 6), num_samples=7).shape
    torch.Size([7, 4])
    """

    def __init__(
        self,
        x_dim: int,
        z_dim: int = 2,
        hidden: Sequence[int] = (400,),
        activation: str = "relu",
        num_components: int = 30,
    ):
        super().__init__()
        self.x_dim = check_positive_int(x_dim, "x_dim")
        self.z_dim = check_positive_int(z_dim, "z_dim")
        c = check_positive_int(num_components, "num_components")
        hidden = check_widths(hidden)
        self.config = dict(
            x_dim=self.x_dim,
            z_dim=self.z_dim,
            hidden=hidden,
            activation=activation,
            num_components=c,
        )
        self.encoder = mlp((x_dim, *hidden, 2 * z_dim), activation)
        self.decoder = mlp((z_dim, *reversed(hidden), x_dim), activation)
        self.prior_logits = nn.Parameter(
            torch.zeros(c)
        )  # (C,) log pi, up to a constant
        self.prior_means = nn.Parameter(torch.randn(c, z_dim))  # (C, Dz)
        self.prior_log_scales = nn.Parameter(torch.zeros(c, z_dim))  # (C, Dz)

    def prior(self) -> MixtureSameFamily:
        """The prior :math:`p_\\theta(z)` as a ``torch.distributions`` mixture (event shape ``(Dz,)``)."""
        components = Independent(
            Normal(self.prior_means, self.prior_log_scales.exp()), 1
        )
        return MixtureSameFamily(Categorical(logits=self.prior_logits), components)

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """:math:`\\log p_\\theta(z)` for latents ``(..., Dz)``: shape ``(...)``."""
        return self.prior().log_prob(check_latent(z, self.z_dim))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The parameters of :math:`q_\\phi(z \\mid x)`: ``(mu, log_sigma)``, each ``(B, Dz)``."""
        check_batch(x, self.x_dim)
        mu, log_sigma = self.encoder(x).chunk(2, dim=-1)  # (B, Dz) each
        return mu, log_sigma

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits :math:`\\ell_\\theta(z)`, shape ``(..., D)``."""
        return self.decoder(check_latent(z, self.z_dim))

    @torch.no_grad()
    def sample_latent(
        self, n: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``n`` draws from the mixture prior, shape ``(n, Dz)``: a component, then its Gaussian."""
        n = check_positive_int(n, "n")
        weights = torch.softmax(self.prior_logits, 0).cpu()  # (C,)
        c = torch.multinomial(weights, n, replacement=True, generator=generator)  # (n,)
        eps = torch.randn(n, self.z_dim, generator=generator).to(
            self.device, self.dtype
        )
        c = c.to(self.device)
        return self.prior_means[c] + self.prior_log_scales[c].exp() * eps

    def elbo_terms(
        self, x: torch.Tensor, num_samples: int = 1
    ) -> dict[str, torch.Tensor]:
        """``log_px_z``, ``log_pz`` and ``log_qz_x``, each ``(K, B)``, and the entropy of q ``(B,)``."""
        mu, log_sigma = self.encode(x)  # (B, Dz) each
        z = reparameterize(mu, log_sigma, num_samples)  # (K, B, Dz)
        entropy = (log_sigma + 0.5 * math.log(2 * math.pi * math.e)).sum(-1)  # (B,)
        return dict(
            log_px_z=log_bernoulli(x, self.decode(z)),
            log_pz=self.log_prior(z),
            log_qz_x=log_normal(z, mu, log_sigma),
            entropy=entropy,
        )

    def log_weights(
        self, x: torch.Tensor, num_samples: int = 1, index: torch.Tensor | None = None
    ) -> torch.Tensor:
        """:math:`\\log p_\\theta(x, z_k) - \\log q_\\phi(z_k \\mid x)` for ``num_samples`` draws, ``(K, B)``."""
        t = self.elbo_terms(x, num_samples)
        return t["log_px_z"] + t["log_pz"] - t["log_qz_x"]

    def training_loss(self, x: torch.Tensor, index: torch.Tensor | None = None):
        """The negative ELBO (one sample, the entropy of q in closed form), averaged over the batch."""
        t = self.elbo_terms(x, 1)
        log_px_z = t["log_px_z"].mean(0)  # (B,)
        # a one-sample estimate of KL(q || p), with the entropy of q in closed form
        kl = -t["entropy"] - t["log_pz"].mean(0)  # (B,)
        elbo = log_px_z - kl
        stats = dict(
            elbo=elbo.mean().detach(),
            recon=log_px_z.mean().detach(),
            kl=kl.mean().detach(),
        )
        return -elbo.mean(), stats

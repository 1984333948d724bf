"""A deterministic autoencoder turned generative: a Gaussian mixture fitted to its codes."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from .autoencoder import Autoencoder
from .densities import log_bernoulli, log_normal
from .protocol import LatentVariableModel, check_batch, check_positive_int
from .samplers import reparameterize

__all__ = ["AutoencoderGMM", "gmm_log_density"]


def gmm_log_density(
    z: torch.Tensor,
    log_weights: torch.Tensor,
    means: torch.Tensor,
    scale_tril: torch.Tensor,
) -> torch.Tensor:
    r"""Log-density of a Gaussian mixture with full covariances.

    .. math:: \log p(z) = \log \sum_{c=1}^C \pi_c\, \mathcal{N}(z; \mu_c, L_c L_c^\top)

    Each component is evaluated through its Cholesky factor :math:`L_c`:
    :math:`\log \mathcal{N} = -\tfrac{D_z}{2}\log 2\pi - \sum_j \log (L_c)_{jj} - \tfrac12 \lVert L_c^{-1}(z - \mu_c) \rVert^2`,
    and the sum over components is a ``logsumexp``.

    Args:
        z: points, ``(..., Dz)``.
        log_weights: :math:`\log \pi_c`, ``(C,)``.
        means: :math:`\mu_c`, ``(C, Dz)``.
        scale_tril: :math:`L_c`, lower-triangular ``(C, Dz, Dz)``.

    Returns:
        ``z.shape[:-1]``.

    >>> gmm_log_density(torch.zeros(1, 2), torch.zeros(1), torch.zeros(1, 2), torch.eye(2)[None])  # -log 2 pi
    tensor([-1.8379])
    """
    c, dz = means.shape
    if (
        z.shape[-1] != dz
        or log_weights.shape != (c,)
        or scale_tril.shape != (c, dz, dz)
    ):
        raise ValueError(
            f"expected z (..., {dz}), log_weights ({c},), scale_tril ({c}, {dz}, {dz}); got "
            f"{tuple(z.shape)}, {tuple(log_weights.shape)}, {tuple(scale_tril.shape)}"
        )
    diff = (z.unsqueeze(-2) - means).unsqueeze(-1)  # (..., C, Dz, 1)
    white = torch.linalg.solve_triangular(
        scale_tril.expand(*diff.shape[:-2], dz, dz), diff, upper=False
    )
    maha = white.squeeze(-1).pow(2).sum(-1)  # (..., C)
    log_det = torch.log(torch.diagonal(scale_tril, dim1=-2, dim2=-1)).sum(-1)  # (C,)
    log_comp = -0.5 * dz * math.log(2 * math.pi) - log_det - 0.5 * maha  # (..., C)
    return torch.logsumexp(log_weights + log_comp, dim=-1)


class AutoencoderGMM(LatentVariableModel):
    r"""Chapter 1's deterministic autoencoder with a Gaussian mixture over its 2-D codes.

    Generative story (report section 5.3), once the autoencoder is trained:

    1. fit a :math:`C`-component mixture :math:`p(z) = \sum_c \pi_c \mathcal{N}(z; \mu_c, \Sigma_c)` to the
       training codes :math:`f_\phi(x)` (:meth:`fit_gmm`, scikit-learn's EM);
    2. pick a component :math:`c \sim \mathrm{Cat}(\pi)`;
    3. draw :math:`z \sim \mathcal{N}(\mu_c, \Sigma_c)`;
    4. decode to Bernoulli means :math:`\operatorname{sigmoid}(\ell_\theta(z))`;
    5. keep the means, take the most probable image, or sample the pixels
       (:meth:`generate` with ``kind="mean"``, ``"mode"`` or ``"sample"``).

    As a latent-variable model :math:`p(x) = \int p(z)\, p_\theta(x \mid z)\, dz`, it is scored by
    importance sampling with the proposal :math:`q(z \mid x) = \mathcal{N}(f_\phi(x), s^2 I)` centred on
    the code; the scale :math:`s` (``proposal_scale``, a buffer) is a choice, tuned by
    :meth:`tune_proposal_scale`.

    The mixture and the scale are buffers, so checkpoints keep them; ``config`` holds the
    autoencoder's arguments and :math:`C`.

    Args:
        x_dim, z_dim, hidden, activation: the :class:`~vaecourse.autoencoder.Autoencoder`'s arguments.
        num_components: :math:`C` (30 in the report).

    >>> model = AutoencoderGMM(x_dim=6, z_dim=2, hidden=(4,), num_components=3)
    >>> model.generate(5, kind="mode").shape
    torch.Size([5, 6])
    """

    def __init__(
        self,
        x_dim: int,
        z_dim: int = 2,
        hidden: Sequence[int] = (512, 256),
        activation: str = "relu",
        num_components: int = 30,
    ):
        super().__init__()
        self.num_components = check_positive_int(num_components, "num_components")
        self.autoencoder = Autoencoder(
            x_dim, z_dim, hidden, activation
        )  # checks its arguments
        self.config = {**self.autoencoder.config, "num_components": self.num_components}
        self.x_dim, self.z_dim = self.autoencoder.x_dim, self.autoencoder.z_dim
        c = self.num_components
        # placeholders until fit_gmm: equal weights, unit covariances
        self.register_buffer("gmm_log_weights", torch.full((c,), -math.log(c)))
        self.register_buffer("gmm_means", torch.zeros(c, z_dim))
        self.register_buffer("gmm_scale_tril", torch.eye(z_dim).repeat(c, 1, 1))
        self.register_buffer("proposal_scale", torch.tensor(0.1))

    @classmethod
    def from_autoencoder(
        cls, autoencoder: Autoencoder, num_components: int = 30
    ) -> AutoencoderGMM:
        """A model sharing a copy of ``autoencoder``'s weights (its mixture not yet fitted)."""
        if not isinstance(autoencoder, Autoencoder):
            raise TypeError(
                f"expected a vaecourse Autoencoder, got {type(autoencoder).__name__}"
            )
        model = cls(**autoencoder.config, num_components=num_components)
        model.autoencoder.load_state_dict(autoencoder.state_dict())
        return model.to(autoencoder.device)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes :math:`f_\\phi(x)`, ``(B, Dz)``."""
        return self.autoencoder.encode(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits :math:`\\ell_\\theta(z)`, ``(..., D)``."""
        return self.autoencoder.decode(z)

    @torch.no_grad()
    def codes(self, x: torch.Tensor, batch_size: int = 5000) -> torch.Tensor:
        """Codes of a whole data set, computed in batches, on the CPU."""
        check_batch(x, self.x_dim)
        return torch.cat(
            [
                self.encode(x[a : a + batch_size].to(self.device)).cpu()
                for a in range(0, x.shape[0], batch_size)
            ]
        )

    def fit_gmm(
        self, codes: torch.Tensor, seed: int = 0, max_iter: int = 200, **kwargs
    ):
        """Fit the mixture to ``codes`` ``(N, Dz)`` with scikit-learn's ``GaussianMixture`` (full covariances).

        Copies the weights, means and Cholesky factors of the covariances into the buffers and
        returns the fitted scikit-learn object. Extra keyword arguments go to ``GaussianMixture``.
        """
        from sklearn.mixture import GaussianMixture

        if codes.dim() != 2 or codes.shape[1] != self.z_dim:
            raise ValueError(
                f"codes must have shape (N, {self.z_dim}), got {tuple(codes.shape)}"
            )
        if codes.shape[0] < self.num_components:
            raise ValueError(
                f"need at least {self.num_components} codes to fit {self.num_components} components, "
                f"got {codes.shape[0]}"
            )
        gmm = GaussianMixture(
            self.num_components,
            covariance_type="full",
            random_state=seed,
            max_iter=max_iter,
            **kwargs,
        )
        gmm.fit(codes.detach().cpu().double().numpy())
        like = self.gmm_means
        self.gmm_log_weights.copy_(torch.from_numpy(np.log(gmm.weights_)).to(like))
        self.gmm_means.copy_(torch.from_numpy(gmm.means_).to(like))
        self.gmm_scale_tril.copy_(
            torch.linalg.cholesky(torch.from_numpy(gmm.covariances_)).to(like)
        )
        return gmm

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """:math:`\\log p(z)` under the mixture, ``z.shape[:-1]``."""
        return gmm_log_density(
            z, self.gmm_log_weights, self.gmm_means, self.gmm_scale_tril
        )

    def sample_components(self, n: int, generator: torch.Generator | None = None):
        """Steps 2-3 of the story: components :math:`c` ``(n,)`` and codes :math:`z` ``(n, Dz)``."""
        if not isinstance(n, int) or n <= 0:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        weights = torch.exp(self.gmm_log_weights).cpu()
        c = torch.multinomial(weights, n, replacement=True, generator=generator)  # (n,)
        eps = torch.randn(
            n, self.z_dim, 1, generator=generator, dtype=self.gmm_means.dtype
        )
        z = self.gmm_means.cpu()[c] + (self.gmm_scale_tril.cpu()[c] @ eps).squeeze(
            -1
        )  # mu_c + L_c eps
        return c.to(self.device), z.to(self.device)

    def sample_latent(
        self, n: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``n`` codes drawn from the mixture, ``(n, Dz)``."""
        return self.sample_components(n, generator)[1]

    def log_weights(
        self, x: torch.Tensor, num_samples: int = 1, index: torch.Tensor | None = None
    ) -> torch.Tensor:
        r""":math:`\log p(z_k) + \log p(x \mid z_k) - \log q(z_k \mid x)`, :math:`z_k \sim \mathcal{N}(f(x), s^2 I)`, ``(K, B)``."""
        mu = self.encode(x)  # (B, Dz)
        log_s = torch.log(self.proposal_scale).expand_as(mu)
        z = reparameterize(mu, log_s, num_samples)  # (K, B, Dz)
        log_px_z = log_bernoulli(x, self.decode(z))  # (K, B)
        return log_px_z + self.log_prior(z) - log_normal(z, mu, log_s)

    def training_loss(self, x: torch.Tensor, index: torch.Tensor | None = None):
        """The autoencoder's reconstruction loss (the mixture is fitted afterwards, by :meth:`fit_gmm`)."""
        return self.autoencoder.training_loss(x, index)

    @torch.no_grad()
    def tune_proposal_scale(
        self, x: torch.Tensor, scales: Sequence[float], num_samples: int = 100
    ) -> dict:
        """Set ``proposal_scale`` to the value of ``scales`` with the highest mean IW estimate on ``x``.

        Every IW estimate is a stochastic lower bound on :math:`\\log p(x)` in expectation, whatever the
        proposal, so the highest one is the least loose: tune on validation data, not on the test set.

        Returns:
            ``{scale: mean IW estimate}`` for every scale tried.
        """
        from .evaluate import iw_log_likelihood

        if len(scales) == 0 or any(s <= 0 for s in scales):
            raise ValueError(
                f"scales must be a non-empty list of positive numbers, got {list(scales)}"
            )
        results = {}
        for s in scales:
            self.proposal_scale.fill_(float(s))
            results[float(s)] = float(iw_log_likelihood(self, x, num_samples).mean())
        self.proposal_scale.fill_(max(results, key=results.get))
        return results

"""The variational auto-encoder with Gaussian latents and a Bernoulli decoder."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .densities import (
    kl_normal_standard,
    log_bernoulli,
    log_mean_exp,
    log_normal,
    log_standard_normal,
)
from .nets import mlp
from .protocol import (
    LatentVariableModel,
    check_batch,
    check_latent,
    check_non_negative,
    check_positive_int,
    check_widths,
)
from .samplers import reparameterize

__all__ = ["GaussianVAE", "reparameterize", "iw_objective", "free_bits_kl"]


class GaussianVAE(LatentVariableModel):
    r"""VAE with :math:`p(z) = \mathcal{N}(0, I)`, :math:`q_\phi(z \mid x) = \mathcal{N}(\mu_\phi(x), \sigma_\phi(x)^2)`
    and :math:`p_\theta(x \mid z) = \prod_d \mathcal{B}(x_d; \operatorname{sigmoid}(\ell_\theta(z)_d))`.

    The training objective is the reparameterised ELBO with a KL weight :math:`\beta`,

    .. math:: \mathcal{L}_\beta(x; \theta, \phi) = \mathbb{E}_{q}[\log p_\theta(x \mid z)] - \beta\, \mathrm{KL}(q_\phi(z \mid x) \,\|\, p(z)),

    with the KL term computed in closed form (``analytic_kl=True``) or by Monte
    Carlo. With ``iw_samples = K > 1`` it trains on the importance-weighted bound
    of Burda et al. (2016) instead (``beta`` must then be 1), and ``dreg=True`` gives its
    encoder the doubly reparameterised gradient of Tucker et al. (2019) (:func:`iw_objective`).

    Two settings fight posterior collapse. ``kl_warmup = T`` multiplies the KL weight by
    :math:`\min(1, t / T)` at training step :math:`t`, a linear ramp from 0 (the steps are
    counted in the buffer ``steps_taken``, saved with the weights). ``free_bits = \kappa``
    replaces the KL term by :math:`\sum_j \max(\kappa, \overline{\mathrm{KL}}_j)`, where
    :math:`\overline{\mathrm{KL}}_j` is dimension :math:`j`'s KL term averaged over the batch
    (:func:`free_bits_kl`, Kingma et al. 2016).

    Args:
        x_dim: :math:`D`, pixels per image.
        z_dim: :math:`D_z`, latent dimensions.
        hidden: widths of the encoder's hidden layers; the decoder mirrors them.
        activation: hidden activation (see :data:`vaecourse.nets.ACTIVATIONS`).
        beta: KL weight :math:`\beta` (1 gives the ELBO).
        analytic_kl: use the closed-form KL in the training loss.
        train_samples: samples of :math:`z` per example in the training loss.
        iw_samples: if above 1, train on the importance-weighted bound with this many samples.
        dreg: train on the importance-weighted bound with the doubly reparameterised encoder gradient.
        kl_warmup: :math:`T`, the training steps over which the KL weight rises from 0 (0: none).
        free_bits: :math:`\kappa`, nats per latent dimension that the KL term leaves free.

    >>> vae = GaussianVAE(x_dim=6, z_dim=2, hidden=(5,))
    >>> vae.log_weights(torch.ones(3, 6), num_samples=4).shape
    torch.Size([4, 3])
    """

    def __init__(
        self,
        x_dim: int,
        z_dim: int = 20,
        hidden: Sequence[int] = (400,),
        activation: str = "relu",
        beta: float = 1.0,
        analytic_kl: bool = True,
        train_samples: int = 1,
        iw_samples: int = 1,
        dreg: bool = False,
        kl_warmup: int = 0,
        free_bits: float = 0.0,
    ):
        super().__init__()
        self.x_dim, self.z_dim = (
            check_positive_int(x_dim, "x_dim"),
            check_positive_int(z_dim, "z_dim"),
        )
        self.beta = check_non_negative(beta, "beta")
        self.train_samples = check_positive_int(train_samples, "train_samples")
        self.iw_samples = check_positive_int(iw_samples, "iw_samples")
        if not isinstance(analytic_kl, bool):
            raise ValueError(f"analytic_kl must be True or False, got {analytic_kl!r}")
        if not isinstance(dreg, bool):
            raise ValueError(f"dreg must be True or False, got {dreg!r}")
        self.dreg = dreg
        if (self.iw_samples > 1 or dreg) and self.beta != 1.0:
            raise ValueError(
                "the importance-weighted bound is defined for beta = 1 only"
            )
        self.kl_warmup = (
            0 if kl_warmup == 0 else check_positive_int(kl_warmup, "kl_warmup")
        )
        self.free_bits = check_non_negative(free_bits, "free_bits")
        if (self.kl_warmup or self.free_bits) and (self.iw_samples > 1 or dreg):
            raise ValueError(
                "KL warm-up and free bits apply to the ELBO, not to the IW bound"
            )
        if self.free_bits and not analytic_kl:
            raise ValueError(
                "free bits need the KL term per dimension: set analytic_kl=True"
            )
        hidden = check_widths(hidden)
        self.config = dict(
            x_dim=self.x_dim,
            z_dim=self.z_dim,
            hidden=hidden,
            activation=activation,
            beta=self.beta,
            analytic_kl=analytic_kl,
            train_samples=self.train_samples,
            iw_samples=self.iw_samples,
        )
        if (
            dreg
        ):  # only when set, so that the checkpoints of models without it still match
            self.config["dreg"] = True
        if self.kl_warmup:  # as dreg: only when set
            self.config["kl_warmup"] = self.kl_warmup
            self.register_buffer("steps_taken", torch.zeros((), dtype=torch.long))
        if self.free_bits:
            self.config["free_bits"] = self.free_bits
        self.analytic_kl = analytic_kl
        self.encoder = mlp((x_dim, *hidden, 2 * z_dim), activation)
        self.decoder = mlp((z_dim, *reversed(list(hidden)), x_dim), activation)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The parameters of :math:`q_\\phi(z \\mid x)`: ``(mu, log_sigma)``, each ``(B, Dz)``."""
        check_batch(x, self.x_dim)
        mu, log_sigma = self.encoder(x).chunk(2, dim=-1)  # (B, Dz) each
        return mu, log_sigma

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits :math:`\\ell_\\theta(z)`, shape ``(..., D)``."""
        return self.decoder(check_latent(z, self.z_dim))

    def sample_latent(
        self, n: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``n`` draws from the prior :math:`\\mathcal{N}(0, I)`, shape ``(n, Dz)``."""
        return torch.randn(n, self.z_dim, generator=generator).to(
            self.device, self.dtype
        )

    def elbo_terms(
        self, x: torch.Tensor, num_samples: int = 1
    ) -> dict[str, torch.Tensor]:
        """Reconstruction and KL terms of the ELBO from ``num_samples`` reparameterised draws.

        Returns a dict with ``log_px_z`` ``(K, B)``, ``kl`` ``(B,)`` (analytic) or ``(K, B)``
        (Monte Carlo, :math:`\\log q(z \\mid x) - \\log p(z)`), and ``log_pz``, ``log_qz_x`` ``(K, B)``.
        """
        mu, log_sigma = self.encode(x)  # (B, Dz) each
        z = reparameterize(mu, log_sigma, num_samples)  # (K, B, Dz)
        log_px_z = log_bernoulli(x, self.decode(z))  # (K, B)
        log_pz = log_standard_normal(z)  # (K, B)
        log_qz_x = log_normal(z, mu, log_sigma)  # (K, B)
        kl = (
            kl_normal_standard(mu, log_sigma) if self.analytic_kl else log_qz_x - log_pz
        )
        return dict(log_px_z=log_px_z, log_pz=log_pz, log_qz_x=log_qz_x, kl=kl)

    def log_weights(
        self, x: torch.Tensor, num_samples: int = 1, index: torch.Tensor | None = None
    ) -> torch.Tensor:
        """:math:`\\log p(x, z_k) - \\log q(z_k \\mid x)` for ``num_samples`` draws, shape ``(K, B)``."""
        t = self.elbo_terms(x, num_samples)
        return t["log_px_z"] + t["log_pz"] - t["log_qz_x"]

    def kl_weight(self) -> float:
        r"""The KL weight of the next training step: :math:`\beta`, ramped up by the warm-up."""
        if not self.kl_warmup:
            return self.beta
        return self.beta * min(1.0, int(self.steps_taken) / self.kl_warmup)

    def fit_batch(self, x, index, optimizer):
        """One optimiser step on :meth:`training_loss`, counted for the KL warm-up."""
        out = super().fit_batch(x, index, optimizer)
        if self.kl_warmup:
            self.steps_taken += 1
        return out

    def training_loss(self, x: torch.Tensor, index: torch.Tensor | None = None):
        """Negative (beta-weighted or importance-weighted) bound, averaged over the batch."""
        if self.iw_samples > 1 or self.dreg:
            return iw_objective(self, x, self.iw_samples, dreg=self.dreg)
        if self.analytic_kl:
            # only the terms the loss needs: log p(z) and log q(z|x) are not formed
            mu, log_sigma = self.encode(x)  # (B, Dz) each
            z = reparameterize(mu, log_sigma, self.train_samples)  # (K, B, Dz)
            log_px_z = log_bernoulli(x, self.decode(z)).mean(0)  # (B,)
            kl = kl_normal_standard(mu, log_sigma)  # (B,)
        else:
            t = self.elbo_terms(x, self.train_samples)
            log_px_z, kl = t["log_px_z"].mean(0), t["kl"].mean(0)  # (B,) each
        if self.free_bits:  # one KL term per dimension: a trailing axis of size 1 each
            kl_d = kl_normal_standard(
                mu.unsqueeze(-1), log_sigma.unsqueeze(-1)
            )  # (B, Dz)
            penalty = free_bits_kl(kl_d, self.free_bits)
        else:
            penalty = kl.mean()
        weight = self.kl_weight()
        loss = -log_px_z.mean() + weight * penalty
        stats = dict(
            elbo=(log_px_z - kl).mean().detach(),
            recon=log_px_z.mean().detach(),
            kl=kl.mean().detach(),
        )
        if self.kl_warmup:
            stats["kl_weight"] = torch.tensor(weight)
        return loss, stats


def free_bits_kl(kl_per_dim: torch.Tensor, kappa: float) -> torch.Tensor:
    r"""The free-bits KL term of Kingma et al. (2016): each dimension's batch-mean KL, at least :math:`\kappa`.

    .. math:: \sum_{j=1}^{D_z} \max\Big(\kappa,\ \frac1B \sum_{b=1}^B
              \mathrm{KL}\big(q_\phi(z_j \mid x_b) \,\|\, p(z_j)\big)\Big)

    A dimension whose average KL is below :math:`\kappa` contributes the constant
    :math:`\kappa`, so no gradient pushes its posteriors towards the prior: the encoder may
    spend up to :math:`\kappa` nats on it for free. With :math:`\kappa = 0` it is the batch
    mean of the ordinary KL term.

    Args:
        kl_per_dim: ``(B, Dz)`` KL terms per image and dimension (non-negative).
        kappa: :math:`\kappa \ge 0`, nats per dimension.

    Returns:
        a scalar.

    >>> kl = torch.tensor([[0.1, 2.0], [0.3, 4.0]])
    >>> free_bits_kl(kl, 0.5)  # max(0.5, 0.2) + max(0.5, 3.0)
    tensor(3.5000)
    """
    kappa = check_non_negative(kappa, "kappa")
    if kl_per_dim.dim() != 2:
        raise ValueError(
            f"kl_per_dim must have shape (batch, z_dim), got {tuple(kl_per_dim.shape)}"
        )
    return kl_per_dim.mean(0).clamp(min=kappa).sum()


def iw_objective(
    model: GaussianVAE, x: torch.Tensor, num_samples: int, dreg: bool = False
):
    r"""The negative importance-weighted bound of a :class:`GaussianVAE`, as ``(loss, stats)``.

    .. math:: \log \hat p_K(x) = \log \frac1K \sum_{k=1}^K w_k, \qquad
              w_k = \frac{p_\theta(x, z_k)}{q_\phi(z_k \mid x)}, \quad z_k = \mu_\phi(x) + \sigma_\phi(x) \odot \varepsilon_k

    Its gradient is :math:`\sum_k \tilde w_k \nabla \log w_k` with the normalised weights
    :math:`\tilde w_k = w_k / \sum_j w_j`; at :math:`K = 1` the loss is the single-sample ELBO
    with a Monte Carlo KL term. With ``dreg=True`` the encoder receives the doubly
    reparameterised gradient of Tucker et al. (2019) instead,

    .. math:: \nabla_\phi^{\mathrm{DReG}} = \sum_k \tilde w_k^2\, \frac{\partial \log w_k}{\partial z_k}
              \frac{\partial z_k}{\partial \phi},

    with :math:`\log q_\phi` inside :math:`\log w_k` held fixed in :math:`\phi` (its score term
    has mean zero and only adds noise); the decoder's gradient is unchanged. Both encoder
    gradients have the same expectation.

    Args:
        model: the VAE.
        x: binary images ``(B, D)``.
        num_samples: :math:`K`.
        dreg: use the doubly reparameterised encoder gradient.

    Returns:
        ``(loss, stats)``: the negative bound averaged over the batch, and a dict with the
        batch means of ``iw_bound`` and of ``elbo`` (the mean of the :math:`\log w_k`).

    >>> _ = torch.manual_seed(0)
    >>> vae = GaussianVAE(x_dim=6, z_dim=2, hidden=(5,))
    >>> x = torch.ones(3, 6)
    >>> _ = torch.manual_seed(1); a, _ = iw_objective(vae, x, 4)
    >>> _ = torch.manual_seed(1); b, _ = iw_objective(vae, x, 4, dreg=True)
    >>> torch.equal(a, b)  # the same value; only the gradient differs
    True
    """
    check_positive_int(num_samples, "num_samples")
    if not isinstance(dreg, bool):
        raise ValueError(f"dreg must be True or False, got {dreg!r}")
    mu, log_sigma = model.encode(x)  # (B, Dz) each
    z = reparameterize(mu, log_sigma, num_samples)  # (K, B, Dz)
    if dreg:  # q's parameters reach log w only through z: the path gradient
        log_qz_x = log_normal(z, mu.detach(), log_sigma.detach())  # (K, B)
    else:
        log_qz_x = log_normal(z, mu, log_sigma)  # (K, B)
    log_w = (
        log_bernoulli(x, model.decode(z)) + log_standard_normal(z) - log_qz_x
    )  # (K, B)
    bound = log_mean_exp(log_w, dim=0)  # (B,)
    stats = dict(iw_bound=bound.mean().detach(), elbo=log_w.mean().detach())
    if not dreg:
        return -bound.mean(), stats
    w = torch.softmax(log_w.detach(), dim=0)  # (K, B) normalised weights
    if z.requires_grad:
        # the loss below sends w_k d(log w_k)/dz_k to z_k;
        # scaling by w_k once more gives DReG's w_k^2
        z.register_hook(lambda grad: grad * w.unsqueeze(-1))
    surrogate = (w * log_w).sum(0)  # (B,): its gradient in theta is the IWAE gradient
    return -(
        surrogate - surrogate.detach() + bound.detach()
    ).mean(), stats  # value: the bound

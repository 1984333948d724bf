"""The deterministic autoencoder: an encoder to a low-dimensional code and a Bernoulli decoder."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .densities import log_bernoulli
from .nets import mlp
from .protocol import (
    CourseModel,
    check_batch,
    check_latent,
    check_positive_int,
    check_widths,
)

__all__ = ["Autoencoder"]


class Autoencoder(CourseModel):
    r"""A deterministic autoencoder :math:`z = f_\phi(x)`, :math:`\hat x = \operatorname{sigmoid}(\ell_\theta(z))`.

    Trained by maximising :math:`\log p_\theta(x \mid z = f_\phi(x))` under a Bernoulli
    decoder (binary cross-entropy). The code is a point, not a distribution: nothing
    ties the codes to any prior, which is why decoding prior samples fails to generate.

    Args:
        x_dim: :math:`D`, pixels per image.
        z_dim: code size (2 in chapters 1 and 10, so the code plane can be drawn).
        hidden: encoder hidden widths; the decoder mirrors them.
        activation: hidden activation.

    >>> ae = Autoencoder(x_dim=6, z_dim=2, hidden=(4,))
    >>> ae.encode(torch.zeros(3, 6)).shape
    torch.Size([3, 2])
    """

    def __init__(
        self,
        x_dim: int,
        z_dim: int = 2,
        hidden: Sequence[int] = (512, 256),
        activation: str = "relu",
    ):
        super().__init__()
        self.x_dim, self.z_dim = (
            check_positive_int(x_dim, "x_dim"),
            check_positive_int(z_dim, "z_dim"),
        )
        hidden = check_widths(hidden)
        self.config = dict(
            x_dim=self.x_dim, z_dim=self.z_dim, hidden=hidden, activation=activation
        )
        self.encoder = mlp((x_dim, *hidden, z_dim), activation)
        self.decoder = mlp((z_dim, *reversed(list(hidden)), x_dim), activation)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Codes :math:`z = f_\\phi(x)`, shape ``(B, Dz)``."""
        return self.encoder(check_batch(x, self.x_dim))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli logits :math:`\\ell_\\theta(z)`, shape ``(..., D)``."""
        return self.decoder(check_latent(z, self.z_dim))

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel probabilities :math:`\\operatorname{sigmoid}(\\ell_\\theta(z))`."""
        return torch.sigmoid(self.decode(z))

    def decode_mode(self, z: torch.Tensor) -> torch.Tensor:
        """Most probable images (pixel on where its logit is positive)."""
        return (self.decode(z) > 0).to(z.dtype)

    @torch.no_grad()
    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Pixel probabilities of the reconstruction of ``x``."""
        return self.decode_mean(self.encode(x))

    def training_loss(self, x: torch.Tensor, index: torch.Tensor | None = None):
        """Mean binary cross-entropy, in nats per image: :math:`-\\log p_\\theta(x \\mid f_\\phi(x))`."""
        log_px_z = log_bernoulli(x, self.decode(self.encode(x)))  # (B,)
        loss = -log_px_z.mean()
        return loss, dict(loss=loss.detach())

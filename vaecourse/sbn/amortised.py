"""The amortised twin of the sigmoid belief network: the same generative model, an encoder for q."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..nets import mlp
from ..protocol import (
    check_batch,
    check_widths,
)
from .base import _check_num_samples, _SBNBase

__all__ = ["AmortisedSBN"]


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

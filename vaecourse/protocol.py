"""The interface shared by every model of the course, and the registry that checkpoints use."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["CourseModel", "LatentVariableModel", "MODEL_REGISTRY", "check_batch", "check_binary"]

MODEL_REGISTRY: dict[str, type[nn.Module]] = {}
"""Every :class:`CourseModel` subclass by class name, so a checkpoint can rebuild it."""


def check_batch(x: Any, x_dim: int, name: str = "x") -> torch.Tensor:
    """Check that ``x`` is a floating tensor of shape ``(B, x_dim)`` and return it.

    Only the shape and dtype are checked here (cheap, done on every call);
    :func:`check_binary` checks values once per data set.

    >>> check_batch(torch.zeros(3, 4), 4).shape
    torch.Size([3, 4])
    >>> check_batch(torch.zeros(3, 5), 4)
    Traceback (most recent call last):
    ...
    ValueError: x must have shape (batch, 4), got (3, 5)
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (batch, {x_dim}), got {type(x).__name__}")
    if x.dim() != 2 or x.shape[1] != x_dim:
        raise ValueError(f"{name} must have shape (batch, {x_dim}), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {x.dtype}; use x.float()")
    return x


def check_binary(x: torch.Tensor, name: str = "x") -> None:
    """Raise unless every value of ``x`` is 0 or 1 (a Bernoulli likelihood needs binary data).

    >>> check_binary(torch.tensor([[0.0, 1.0]]))
    >>> check_binary(torch.tensor([[0.0, 0.5]]))
    Traceback (most recent call last):
    ...
    ValueError: x must hold binary values {0, 1} for a Bernoulli likelihood, found 1 value(s) outside {0, 1} (e.g. 0.5); binarize grayscale images first
    """
    bad = (x != 0) & (x != 1)
    count = int(bad.sum())
    if count:
        example = float(x[bad][0])
        raise ValueError(
            f"{name} must hold binary values {{0, 1}} for a Bernoulli likelihood, found {count} "
            f"value(s) outside {{0, 1}} (e.g. {example:g}); binarize grayscale images first"
        )


class CourseModel(nn.Module):
    """A module that remembers its constructor arguments (``self.config``) for checkpoints.

    Subclasses call ``super().__init__()`` and then set ``self.config`` to a dict of
    plain values (numbers, strings, lists) from which ``type(self)(**config)``
    rebuilds an identical, untrained model.
    """

    config: dict[str, Any]

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        MODEL_REGISTRY[cls.__name__] = cls

    @property
    def device(self) -> torch.device:
        """The device of the model's first parameter or buffer (CPU if it has none)."""
        for tensor in (*self.parameters(), *self.buffers()):
            return tensor.device
        return torch.device("cpu")

    def num_parameters(self) -> int:
        """The number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


class LatentVariableModel(CourseModel):
    r"""Base class of the course's latent-variable models :math:`p_\theta(x, z) = p(z)\, p_\theta(x \mid z)`.

    A subclass provides:

    * ``log_weights(x, num_samples)``: ``(K, B)`` values :math:`\log p(x, z_k) - \log q(z_k \mid x)`
      with :math:`z_k \sim q(z \mid x)`; :mod:`vaecourse.evaluate` turns them into the ELBO and the
      importance-weighted log-likelihood;
    * ``training_loss(x, index=None)``: ``(loss, stats)``, a scalar to minimise and a dict of
      detached scalar tensors for the progress bar (``stats["elbo"]`` when defined);
    * ``sample_latent(n, generator=None)``: ``(n, Dz)`` draws from the prior;
    * ``decode(z)``: Bernoulli logits ``(..., D)``.

    It may define ``fit_batch(x, index, optimizer) -> stats`` when its update is not
    "minimise ``training_loss`` by one optimiser step" (e.g. alternating updates).
    """

    x_dim: int

    def log_weights(self, x: torch.Tensor, num_samples: int = 1) -> torch.Tensor:
        raise NotImplementedError

    def training_loss(self, x: torch.Tensor, index: torch.Tensor | None = None):
        raise NotImplementedError

    def sample_latent(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        r"""Bernoulli means :math:`\operatorname{sigmoid}(\text{logits})`, shape ``(..., D)``."""
        return torch.sigmoid(self.decode(z))

    def decode_mode(self, z: torch.Tensor) -> torch.Tensor:
        """Most probable images: a pixel is on when its probability exceeds 1/2 (logit > 0)."""
        logits = self.decode(z)
        return (logits > 0).to(logits.dtype)

    @torch.no_grad()
    def generate(self, n: int, kind: str = "mean", generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` latents from the prior and decode them to images ``(n, D)``.

        Args:
            n: number of images.
            kind: ``"mean"`` (Bernoulli means), ``"mode"`` (most probable images) or
                ``"sample"`` (binary images drawn from the Bernoulli decoder).
            generator: optional seeded ``torch.Generator`` (CPU).
        """
        if kind not in ("mean", "mode", "sample"):
            raise ValueError(f"kind must be 'mean', 'mode' or 'sample', got {kind!r}")
        if not isinstance(n, int) or n <= 0:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        z = self.sample_latent(n, generator=generator)
        if kind == "mean":
            return self.decode_mean(z)
        if kind == "mode":
            return self.decode_mode(z)
        probs = self.decode_mean(z)
        u = torch.rand(probs.shape, generator=generator).to(probs.device)
        return (u < probs).to(probs.dtype)

"""The interface shared by every model of the course, its input checks, and the registry that checkpoints use."""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

import torch
from torch import nn

__all__ = [
    "CourseModel",
    "LatentVariableModel",
    "MODEL_REGISTRY",
    "check_batch",
    "check_binary",
    "check_latent",
    "check_positive_int",
    "check_non_negative",
    "check_positive",
    "check_widths",
]

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
        raise TypeError(
            f"{name} must be a torch.Tensor of shape (batch, {x_dim}), got {type(x).__name__}"
        )
    if x.dim() != 2 or x.shape[1] != x_dim:
        raise ValueError(
            f"{name} must have shape (batch, {x_dim}), got {tuple(x.shape)}"
        )
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor, got {x.dtype}; use x.float()"
        )
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


def check_latent(z: torch.Tensor, z_dim: int) -> torch.Tensor:
    """Check that latents ``z`` have last dimension ``z_dim`` and return them (decoders call it).

    >>> check_latent(torch.zeros(4, 3, 2), 3)
    Traceback (most recent call last):
    ...
    ValueError: z must have last dimension 3, got shape (4, 3, 2)
    """
    if not isinstance(z, torch.Tensor) or z.dim() == 0 or z.shape[-1] != z_dim:
        raise ValueError(
            f"z must have last dimension {z_dim}, got shape {tuple(getattr(z, 'shape', ()))}"
        )
    return z


def check_positive_int(value: Any, name: str) -> int:
    """Return ``value`` if it is a positive integer (not a bool), else raise naming ``name``.

    >>> check_positive_int(3, "z_dim")
    3
    >>> check_positive_int(2.5, "z_dim")
    Traceback (most recent call last):
    ...
    ValueError: z_dim must be a positive integer, got 2.5
    """
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_non_negative(value: Any, name: str) -> float:
    """Return ``value`` as a float if it is a finite number >= 0, else raise naming ``name``.

    >>> check_non_negative(float("nan"), "beta")
    Traceback (most recent call last):
    ...
    ValueError: beta must be a finite number >= 0, got nan
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, Real)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return float(value)


def check_positive(value: Any, name: str) -> float:
    """Return ``value`` as a float if it is a finite number > 0, else raise naming ``name``.

    >>> check_positive(0.0, "inner_lr")
    Traceback (most recent call last):
    ...
    ValueError: inner_lr must be a finite number > 0, got 0.0
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, Real)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_widths(widths: Any, name: str = "hidden") -> list[int]:
    """Return hidden-layer widths as a list of positive integers, else raise naming ``name``.

    >>> check_widths((400, 200))
    [400, 200]
    >>> check_widths(400)
    Traceback (most recent call last):
    ...
    ValueError: hidden must be a sequence of positive integers (layer widths, e.g. (400,)), got 400
    """
    message = f"{name} must be a sequence of positive integers (layer widths, e.g. (400,)), got {widths!r}"
    if isinstance(widths, (str, bytes)) or not hasattr(widths, "__iter__"):
        raise ValueError(message)
    widths = list(widths)
    if any(isinstance(w, bool) or not isinstance(w, Integral) or w < 1 for w in widths):
        raise ValueError(message)
    return [int(w) for w in widths]


class CourseModel(nn.Module):
    """A module that remembers its constructor arguments (``self.config``) for checkpoints.

    Subclasses call ``super().__init__()`` and then set ``self.config`` to a dict of
    plain values (numbers, strings, lists) from which ``type(self)(**config)``
    rebuilds an identical, untrained model. They define :meth:`training_loss`;
    :func:`vaecourse.train.train` calls :meth:`fit_batch` once per minibatch and
    :meth:`validation_stats` once per epoch.
    """

    config: dict[str, Any]
    x_dim: int

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        MODEL_REGISTRY[cls.__name__] = cls

    @property
    def device(self) -> torch.device:
        """The device of the model's first parameter or buffer (CPU if it has none)."""
        for tensor in (*self.parameters(), *self.buffers()):
            return tensor.device
        return torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype:
        """The dtype of the model's first floating-point parameter (float32 if it has none)."""
        for tensor in self.parameters():
            if tensor.is_floating_point():
                return tensor.dtype
        return torch.float32

    def num_parameters(self) -> int:
        """The number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    def check_data(self, x: Any, name: str = "x") -> torch.Tensor:
        """Check a data set for this model and return it in the model's dtype.

        The shape must be ``(N, x_dim)`` and, for a Bernoulli likelihood, every value 0 or 1
        (:func:`check_binary`, which also catches NaN). Training and the evaluators call it,
        so both refuse the same data with the same message.
        """
        x = check_batch(x, self.x_dim, name)
        check_binary(x, name)
        return x.to(self.dtype)

    def training_loss(self, x: torch.Tensor, index: torch.Tensor | None = None):
        """``(loss, stats)``: a scalar to minimise and detached scalar statistics for the batch.

        ``index`` holds the batch's rows in the training set, for models with per-example parameters.
        """
        raise NotImplementedError

    def fit_batch(
        self, x: torch.Tensor, index: torch.Tensor, optimizer: torch.optim.Optimizer
    ):
        """One training step on a minibatch: zero the gradients, :meth:`training_loss`, backward, step.

        A model whose update is not one optimiser step on one loss (e.g. alternating updates)
        overrides this method.

        Args:
            x: ``(B, D)`` the batch.
            index: ``(B,)`` its rows in the training set.
            optimizer: the optimiser over the model's trainable parameters.

        Returns:
            ``(loss, stats)``: the detached scalar loss and the statistics of :meth:`training_loss`.
        """
        optimizer.zero_grad(set_to_none=True)
        loss, stats = self.training_loss(x, index=index)
        loss.backward()
        optimizer.step()
        return loss.detach(), stats

    @torch.no_grad()
    def validation_stats(
        self, x: torch.Tensor, batch_size: int = 1000
    ) -> dict[str, float]:
        """Figures for held-out data ``x``: ``{"loss": mean training loss}`` unless a subclass says otherwise."""
        total = 0.0
        for a in range(0, x.shape[0], batch_size):
            xb = x[a : a + batch_size].to(self.device)
            total += float(self.training_loss(xb)[0]) * xb.shape[0]
        return {"loss": total / x.shape[0]}


class LatentVariableModel(CourseModel):
    r"""Base class of the course's latent-variable models :math:`p_\theta(x, z) = p(z)\, p_\theta(x \mid z)`.

    A subclass provides:

    * ``log_weights(x, num_samples, index=None)``: ``(K, B)`` values
      :math:`\log p(x, z_k) - \log q(z_k \mid x)` with :math:`z_k \sim q(z \mid x)`;
      :mod:`vaecourse.evaluate` turns them into the ELBO and the importance-weighted
      log-likelihood. ``index`` names the rows of ``x`` in the data set whose per-example
      variational parameters the model holds; amortised models ignore it;
    * ``training_loss(x, index=None)``: ``(loss, stats)``, a scalar to minimise and a dict of
      detached scalar tensors for the progress bar (``stats["elbo"]`` when defined);
    * ``sample_latent(n, generator=None)``: ``(n, Dz)`` draws from the prior;
    * ``decode(z)``: Bernoulli logits ``(..., D)``.

    It inherits :meth:`fit_batch` (one optimiser step on ``training_loss``) and
    :meth:`validation_stats` (the mean ELBO) and overrides them when they do not fit.
    """

    def log_weights(
        self, x: torch.Tensor, num_samples: int = 1, index: torch.Tensor | None = None
    ) -> torch.Tensor:
        raise NotImplementedError

    def sample_latent(
        self, n: int, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def validation_stats(
        self, x: torch.Tensor, batch_size: int = 1000
    ) -> dict[str, float]:
        """``{"elbo": mean single-sample ELBO of x}``, in nats (:func:`vaecourse.evaluate.elbo`)."""
        from .evaluate import elbo  # evaluate imports this module

        return {"elbo": float(elbo(self, x, data_batch_size=batch_size).mean())}

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        r"""Bernoulli means :math:`\operatorname{sigmoid}(\text{logits})`, shape ``(..., D)``."""
        return torch.sigmoid(self.decode(z))

    def decode_mode(self, z: torch.Tensor) -> torch.Tensor:
        """Most probable images: a pixel is on when its probability exceeds 1/2 (logit > 0)."""
        logits = self.decode(z)
        return (logits > 0).to(logits.dtype)

    @torch.no_grad()
    def generate(
        self, n: int, kind: str = "mean", generator: torch.Generator | None = None
    ) -> torch.Tensor:
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
        u = torch.rand(probs.shape, generator=generator, dtype=probs.dtype).to(
            probs.device
        )
        return (u < probs).to(probs.dtype)

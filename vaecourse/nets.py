"""Multilayer perceptrons, the networks behind every encoder and decoder of the course."""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

from torch import nn

__all__ = ["mlp", "ACTIVATIONS"]

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU, "softplus": nn.Softplus}


def mlp(sizes: Sequence[int], activation: str = "relu") -> nn.Sequential:
    """A stack of linear layers with ``activation`` between them (none after the last).

    Args:
        sizes: layer widths, input first and output last, e.g. ``(784, 400, 40)``.
        activation: one of ``ACTIVATIONS``.

    >>> mlp((5, 3, 2))
    Sequential(
      (0): Linear(in_features=5, out_features=3, bias=True)
      (1): ReLU()
      (2): Linear(in_features=3, out_features=2, bias=True)
    )
    """
    sizes = list(sizes)
    if len(sizes) < 2 or any(
        isinstance(s, bool) or not isinstance(s, Integral) or s <= 0 for s in sizes
    ):
        raise ValueError(
            f"layer sizes must be at least two positive integers (input, ..., output), got {sizes}"
        )
    sizes = [int(s) for s in sizes]
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {activation!r}; expected one of {sorted(ACTIVATIONS)}"
        )
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)

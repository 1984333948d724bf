"""Checks for the exercises of chapter 0 (the data and the notation)."""

from __future__ import annotations

import torch

from ._verdict import Case, gen, run_check

__all__ = ["check_pixels_on_per_digit"]


def _pixels_on_per_digit(
    x: torch.Tensor, labels: torch.Tensor, num_classes: int = 10
) -> torch.Tensor:
    """Reference: the mean number of pixels on in the images of each class, ``(num_classes,)``."""
    on = x.sum(dim=-1)  # (N,) pixels on per image
    totals = torch.zeros(num_classes, dtype=x.dtype).index_add_(0, labels, on)  # (C,)
    counts = torch.bincount(labels, minlength=num_classes).to(x.dtype)  # (C,)
    return totals / counts


def _batch(
    num_images: int, num_pixels: int, num_classes: int, seed: int, dtype=torch.float32
):
    """Binary images whose density of on pixels depends on the class; every class present."""
    g = gen(seed)
    labels = torch.arange(num_images) % num_classes  # every class appears
    labels = labels[
        torch.randperm(num_images, generator=g)
    ]  # ... in no particular order
    density = torch.linspace(0.05, 0.5, num_classes)[labels]  # (N,)
    x = torch.bernoulli(
        density[:, None].expand(num_images, num_pixels), generator=g
    ).to(dtype)
    return x, labels


def check_pixels_on_per_digit(fn) -> bool:
    """Check ``fn(x, labels, num_classes=10)``: the mean number of pixels on per class, ``(num_classes,)``.

    >>> check_pixels_on_per_digit(_pixels_on_per_digit)
    ✓ pixels_on_per_digit: correct on 4 inputs
    True
    """
    x1, y1 = _batch(30, 784, 10, seed=0)
    x2, y2 = _batch(500, 784, 10, seed=1)
    x3, y3 = _batch(9, 6, 3, seed=2)
    x4, y4 = _batch(40, 784, 10, seed=3, dtype=torch.float64)
    cases = [
        Case("a batch of random images", (x1, y1)),
        Case("500 images whose density depends on the digit", (x2, y2)),
        Case("images of 6 pixels in 3 classes", (x3, y3), {"num_classes": 3}),
        Case("float64 images (the output keeps the dtype of x)", (x4, y4)),
    ]
    return run_check("pixels_on_per_digit", fn, _pixels_on_per_digit, cases, atol=1e-4)

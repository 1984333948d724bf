"""Binarising grayscale images the way the static binarized MNIST was made: one Bernoulli draw per pixel."""

from __future__ import annotations

import torch

__all__ = ["binarize"]


def binarize(images: torch.Tensor, seed: int = 0) -> torch.Tensor:
    r"""Binary images :math:`x_d \sim \mathcal{B}(g_d)` drawn from grayscale intensities :math:`g_d \in [0, 1]`.

    This is how the static binarized MNIST that every model of the course is trained on was made
    (Salakhutdinov & Murray, 2008): each pixel is on with probability equal to its intensity, drawn
    once. Thresholding at 1/2 instead would give thicker, noiseless strokes that the models never
    saw, so use this function whenever labelled MNIST images are shown to a model.

    The draw is seeded, so the same images give the same binary images on every call (and on
    every device). Binarise the images you show, e.g. ``binarize(images[:n])``.

    Args:
        images: :math:`g`, ``(N, D)`` (or any shape) intensities in [0, 1], e.g. from
            :func:`vaecourse.data.load_mnist`.
        seed: seeds the CPU generator of the uniform draws.

    Returns:
        Binary images of the same shape and dtype, values in {0, 1}, on the same device.

    >>> binarize(torch.tensor([[0.0, 1.0, 1.0, 0.0]]))
    tensor([[0., 1., 1., 0.]])
    >>> g = torch.rand(5, 3); torch.equal(binarize(g), binarize(g))
    True
    """
    if not isinstance(images, torch.Tensor) or not images.is_floating_point():
        raise TypeError(
            f"images must be a floating-point tensor of intensities in [0, 1], got "
            f"{getattr(images, 'dtype', type(images).__name__)}"
        )
    outside = ~((images >= 0) & (images <= 1))  # NaN counts as outside
    if bool(outside.any()):
        raise ValueError(
            f"images must hold intensities in [0, 1], found {int(outside.sum())} value(s) outside "
            f"(e.g. {float(images[outside][0]):g}); scale 0-255 pixels by 1/255 first"
        )
    generator = torch.Generator().manual_seed(seed)
    u = torch.rand(
        images.shape, generator=generator, dtype=images.dtype
    )  # drawn on the CPU: same on every device
    return (u.to(images.device) < images).to(images.dtype)

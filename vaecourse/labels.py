"""The labelled MNIST images made binary, as the pictures coloured by digit need them."""

from __future__ import annotations

import torch

__all__ = ["binarize_like_training"]


def binarize_like_training(images: torch.Tensor) -> torch.Tensor:
    """Binary images from grayscale ones in :math:`[0, 1]`, thresholded at 1/2, as float32.

    The labelled grayscale images coloured by digit in chapters 0, 1 and 3 are fed to models
    trained on binary images; thresholding keeps them binary and deterministic.

    >>> binarize_like_training(torch.tensor([[0.2, 0.5, 0.9]]))
    tensor([[0., 0., 1.]])
    """
    if not torch.is_tensor(images) or not images.is_floating_point():
        raise TypeError(f"expected a float tensor of gray levels in [0, 1], got {type(images).__name__}"
                        + (f" of dtype {images.dtype}" if torch.is_tensor(images) else ""))
    if images.numel() and (images.min() < 0 or images.max() > 1):
        raise ValueError(f"gray levels must lie in [0, 1], got the range [{images.min():.3g}, {images.max():.3g}]")
    return (images > 0.5).float()

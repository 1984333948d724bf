"""Figures that set models or groups side by side: labelled rows of images, legible legends, many colours."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

__all__ = ["category_colors", "digit_legend", "image_rows"]


def image_rows(
    rows: dict,
    image_shape: tuple[int, int] = (28, 28),
    size: float = 0.75,
    label_width: float = 2.6,
    cmap: str = "gray_r",
):
    """Draw one row of images per entry of ``rows``, labelled on the left with its key.

    Args:
        rows: ``{label: images}``, each ``(n, H*W)`` or ``(n, H, W)`` with values in [0, 1] and
            the same ``n`` for every row.
        image_shape: ``(H, W)`` of flat images.
        size: inches per image, so that digits stay legible however many rows there are.
        label_width: inches kept on the left for the labels.
        cmap: colour map (``gray_r`` draws ink dark on white).

    Returns:
        The figure.

    >>> fig = image_rows({"a": torch.zeros(3, 4), "b": torch.ones(3, 4)}, image_shape=(2, 2))
    >>> len(fig.axes)
    6
    """
    if not rows:
        raise ValueError("rows must hold at least one {label: images} entry")
    arrays = {label: _as_images(images, image_shape) for label, images in rows.items()}
    counts = {len(a) for a in arrays.values()}
    if len(counts) != 1:
        raise ValueError(
            f"every row must have the same number of images, got {sorted(counts)}"
        )
    n = counts.pop()
    fig, axes = plt.subplots(
        len(arrays),
        n,
        figsize=(label_width + size * n, size * len(arrays)),
        squeeze=False,
        gridspec_kw={"wspace": 0.05, "hspace": 0.05},
    )
    for row, (label, images) in zip(axes, arrays.items()):
        for ax, image in zip(row, images):
            ax.imshow(image, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set(xticks=[], yticks=[])
        row[0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize="medium")
    fig.subplots_adjust(
        left=label_width / (label_width + size * n), right=0.99, top=0.99, bottom=0.01
    )
    return fig


def _as_images(images, image_shape) -> np.ndarray:
    arr = (
        images.detach().cpu().numpy()
        if isinstance(images, torch.Tensor)
        else np.asarray(images)
    )
    if arr.ndim == 2:
        if arr.shape[1] != image_shape[0] * image_shape[1]:
            raise ValueError(
                f"flat images must have {image_shape[0] * image_shape[1]} pixels for "
                f"image_shape={image_shape}, got {arr.shape[1]}"
            )
        arr = arr.reshape(-1, *image_shape)
    if arr.ndim != 3 or len(arr) == 0:
        raise ValueError(
            f"images must have shape (n, H*W) or (n, H, W) with n >= 1, got {arr.shape}"
        )
    return arr


def digit_legend(ax, digits=range(10), **kwargs):
    """A legend of digit colours with opaque, legible markers, whatever the points' transparency.

    >>> fig, ax = plt.subplots()
    >>> [h.get_alpha() for h in digit_legend(ax, digits=[3]).legend_handles]
    [1.0]
    """
    from matplotlib.lines import Line2D

    from .plots import DIGIT_COLORS

    handles = [
        Line2D(
            [],
            [],
            ls="",
            marker="o",
            markersize=7,
            alpha=1.0,
            color=DIGIT_COLORS(d % 10),
            label=str(d),
        )
        for d in digits
    ]
    options = {
        "title": "digit",
        "loc": "center left",
        "bbox_to_anchor": (1.0, 0.5),
        "frameon": False,
    }
    return ax.legend(handles=handles, **{**options, **kwargs})


def category_colors(n: int) -> list:
    """``n`` distinguishable colours (up to 40): tab20, then tab20b, reordered so neighbours differ.

    >>> len(set(category_colors(30)))
    30
    """
    if not 1 <= n <= 40:
        raise ValueError(f"n must lie between 1 and 40 colours, got {n}")
    palette = [plt.get_cmap("tab20")(i) for i in (*range(0, 20, 2), *range(1, 20, 2))]
    palette += [plt.get_cmap("tab20b")(i) for i in (*range(0, 20, 2), *range(1, 20, 2))]
    return palette[:n]

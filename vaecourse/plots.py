"""Figures the chapters share: image grids, latent scatters and histograms, training curves."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import torch

__all__ = [
    "image_grid",
    "latent_scatter",
    "latent_histogram",
    "training_curves",
    "DIGIT_COLORS",
]

DIGIT_COLORS = plt.get_cmap("tab10")
"""One colour per digit class, used by every figure coloured by label."""


def _as_numpy(a) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    return np.asarray(a)


def image_grid(
    images,
    nrow: int | None = None,
    ax=None,
    title: str | None = None,
    image_shape: tuple[int, int] = (28, 28),
    cmap: str = "gray_r",
    pad: int = 1,
):
    """Tile images into one picture and draw it.

    Args:
        images: ``(N, H*W)`` or ``(N, H, W)`` values in [0, 1].
        nrow: images per row (default: a near-square grid).
        ax: Axes to draw on (default: a new figure).
        title: Axes title.
        image_shape: ``(H, W)`` for flat images.
        cmap: colour map (``gray_r`` draws ink dark on white).
        pad: pixels of background between images.

    Returns:
        The Axes.
    """
    arr = _as_numpy(images).astype(np.float32)
    h, w = image_shape
    if arr.ndim == 2:
        if arr.shape[1] != h * w:
            raise ValueError(
                f"flat images must have {h * w} pixels for image_shape={image_shape}, got {arr.shape[1]}"
            )
        arr = arr.reshape(-1, h, w)
    if arr.ndim != 3 or arr.shape[0] == 0:
        raise ValueError(
            f"images must have shape (N, H*W) or (N, H, W) with N >= 1, got {arr.shape}"
        )
    n, h, w = arr.shape
    ncol = nrow or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncol)
    canvas = np.zeros(
        (nrows * (h + pad) + pad, ncol * (w + pad) + pad), dtype=np.float32
    )
    for i in range(n):
        r, c = divmod(i, ncol)
        canvas[
            pad + r * (h + pad) : pad + r * (h + pad) + h,
            pad + c * (w + pad) : pad + c * (w + pad) + w,
        ] = arr[i]
    if ax is None:
        _, ax = plt.subplots(figsize=(min(0.6 * ncol, 10), min(0.6 * nrows, 10)))
    ax.imshow(canvas, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax


def latent_scatter(
    z,
    labels,
    ax=None,
    title: str | None = None,
    s: float = 3.0,
    alpha: float = 0.6,
    legend: bool = True,
):
    """Scatter 2-D codes coloured by digit label.

    Args:
        z: ``(N, 2)`` codes.
        labels: ``(N,)`` integer labels 0-9.
    """
    z, labels = _as_numpy(z), _as_numpy(labels).astype(int)
    if z.ndim != 2 or z.shape[1] != 2:
        raise ValueError(
            f"z must have shape (N, 2) to be drawn in the plane, got {z.shape}"
        )
    if labels.shape != (z.shape[0],):
        raise ValueError(f"labels must have shape ({z.shape[0]},), got {labels.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 5))
    for digit in np.unique(labels):
        keep = labels == digit
        ax.scatter(
            z[keep, 0],
            z[keep, 1],
            s=s,
            alpha=alpha,
            color=DIGIT_COLORS(digit % 10),
            label=str(digit),
            rasterized=True,
        )
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if legend:
        ax.legend(
            markerscale=4,
            title="digit",
            loc="center left",
            bbox_to_anchor=(1.0, 0.5),
            frameon=False,
        )
    if title:
        ax.set_title(title)
    return ax


def latent_histogram(
    values, labels, ax=None, bins: int = 40, title: str | None = None, range_=(0.0, 1.0)
):
    """Stacked histogram of scalar values (e.g. posterior means of binary latents) coloured by digit.

    Args:
        values: ``(N,)`` or ``(N, Dz)`` values; all entries of a row count under that row's label.
        labels: ``(N,)`` integer labels.
    """
    values, labels = _as_numpy(values), _as_numpy(labels).astype(int)
    if values.shape[0] != labels.shape[0]:
        raise ValueError(
            f"values and labels must have the same length, got {values.shape[0]} and {labels.shape[0]}"
        )
    values = values.reshape(values.shape[0], -1)
    digits = np.unique(labels)
    groups = [values[labels == d].ravel() for d in digits]
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.8))
    ax.hist(
        groups,
        bins=bins,
        range=range_,
        stacked=True,
        color=[DIGIT_COLORS(d % 10) for d in digits],
        label=[str(d) for d in digits],
    )
    ax.set_ylabel("count")
    ax.legend(
        title="digit", ncol=2, fontsize="small", loc="upper center", frameon=False
    )
    if title:
        ax.set_title(title)
    return ax


def training_curves(
    histories, key: str = "elbo", ax=None, title: str | None = None, valid: bool = True
):
    """Per-epoch training (solid) and validation (dashed) curves of one statistic.

    Args:
        histories: a :class:`~vaecourse.train.History` or a dict ``{label: History}``.
        key: the statistic, e.g. ``"elbo"`` or ``"loss"``.
    """
    from .train import History

    if isinstance(histories, History):
        histories = {"": histories}
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.8))
    for i, (label, h) in enumerate(histories.items()):
        if key not in h.train:
            raise KeyError(
                f"history {label!r} has no training statistic {key!r}; it has {sorted(h.train)}"
            )
        color = f"C{i}"
        ax.plot(h.epoch, h.train[key], color=color, label=f"{label} train".strip())
        if valid and key in h.valid:
            ax.plot(
                h.epoch,
                h.valid[key],
                color=color,
                linestyle="--",
                label=f"{label} valid".strip(),
            )
    ax.set_xlabel("epoch")
    ax.set_ylabel(
        key + (" (nats)" if key in ("elbo", "loss", "kl", "recon", "iw_bound") else "")
    )
    ax.legend(frameon=False)
    if title:
        ax.set_title(title)
    return ax

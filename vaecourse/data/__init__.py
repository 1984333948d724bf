"""Binarized and grayscale MNIST: local copies, a compact cache, and verified downloads."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch

from .compact import file_identity, load_compact, save_compact
from .download import fetch
from .formats import (
    IMAGE_SHAPE,
    IMAGE_SIZE,
    check_published,
    parse_amat,
    parse_idx,
    read_bytes,
)
from .sources import (
    BINARIZED_MD5,
    BINARIZED_SPLITS,
    BINARIZED_URL,
    CACHE_ENV,
    DATA_ENV,
    MNIST_MD5,
    MNIST_SPLITS,
    MNIST_URL,
    DataError,
    base_url,
    cache_dir,
    missing_hint,
    source_folder,
)

__all__ = [
    "BINARIZED_MD5",
    "BINARIZED_SPLITS",
    "CACHE_ENV",
    "DATA_ENV",
    "IMAGE_SHAPE",
    "IMAGE_SIZE",
    "MNIST_MD5",
    "MNIST_SPLITS",
    "DataError",
    "cache_dir",
    "load_binarized_mnist",
    "load_mnist",
]

_IDX_IMAGES, _IDX_LABELS = (
    0x0803,
    0x0801,
)  # IDX magic numbers: unsigned bytes, 3 and 1 dimensions


def load_binarized_mnist(
    split: str, root: str | os.PathLike | None = None
) -> torch.Tensor:
    """Load a split of the statically binarized MNIST of Larochelle & Murray (2011).

    The source file (the public ``binarized_mnist_{split}.amat`` text, or its gzip ``.amat.gz``) is
    looked for in ``root/binarized_mnist/`` (or ``$VAECOURSE_DATA/binarized_mnist/`` when ``root`` is
    None). Without one there, the compact copy in the cache folder (``$VAECOURSE_CACHE``, default
    ``~/.cache/vaecourse``) is read, or the file is downloaded from :data:`BINARIZED_URL`.

    Every source is checked against the md5 of the published file (:data:`BINARIZED_MD5`): a download
    before it is kept, a local copy by the md5 of its (decompressed) text. The first load keeps the
    images in the cache as packed bits (``binarized_mnist_{split}-<md5>.npz``, about 0.3 MB for 10,000
    images) together with the file they were made from, and drops a downloaded text file. A later load
    reads that copy only if it was made from the same source file, unchanged, and only after checking
    that its pixels reproduce the published md5; otherwise it reads the source again.
    ``$VAECOURSE_DATA`` is only read, never written.

    Args:
        split: ``"train"`` (50,000 images), ``"valid"`` (10,000) or ``"test"`` (10,000).
        root: a folder holding ``binarized_mnist/``; None reads ``$VAECOURSE_DATA`` if set.

    Returns:
        x: float32 tensor of shape ``(N, IMAGE_SIZE)`` with values in {0, 1}, one image per row.

    Raises:
        ValueError: ``split`` is not one of the splits above.
        DataError: the file is missing and cannot be downloaded, or it is not the published file.

    >>> load_binarized_mnist("training")
    Traceback (most recent call last):
        ...
    ValueError: unknown split 'training' of binarized MNIST; valid splits are 'train', 'valid', 'test'
    """
    num_images = _check_split(split, BINARIZED_SPLITS, "binarized MNIST")
    folder = source_folder(root, "binarized_mnist")
    name = f"binarized_mnist_{split}.amat"
    local = _find(folder, [name, name + ".gz"])
    if local is not None:  # a named source is always what is read
        source = file_identity(local)
        bits = load_compact(split, num_images, source=source)
        if bits is None:
            bits = parse_amat(read_bytes(local), num_images, str(local))
            check_published(bits, split, str(local))
            save_compact(split, bits, source)
    else:
        bits = load_compact(split, num_images)
        if bits is None:
            searched = [
                f for f in (folder, cache_dir() / "binarized_mnist") if f is not None
            ]
            bits = _download_binarized(
                split,
                name,
                num_images,
                missing_hint(name, "binarized_mnist", searched, also_gz=True),
            )
    return torch.from_numpy(bits).to(torch.float32)


def load_mnist(
    split: str = "test", root: str | os.PathLike | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Load a split of the original grayscale MNIST with its digit labels.

    The IDX files (``{t10k,train}-{images-idx3,labels-idx1}-ubyte.gz``) are looked for in
    ``root/mnist/`` (or ``$VAECOURSE_DATA/mnist/``), then in the cache folder, and are otherwise
    downloaded from :data:`MNIST_URL` into the cache; every file is checked against its official md5.

    Args:
        split: ``"test"`` (10,000 images) or ``"train"`` (60,000).
        root: a folder holding ``mnist/``; None reads ``$VAECOURSE_DATA`` if set.

    Returns:
        x: float32 tensor of shape ``(N, IMAGE_SIZE)``, intensities scaled to [0, 1].
        y: int64 tensor of shape ``(N,)``, digits 0-9.

    Raises:
        ValueError: ``split`` is not one of the splits above.
        DataError: a file is missing and cannot be downloaded, or it is corrupt.

    >>> load_mnist("valid")
    Traceback (most recent call last):
        ...
    ValueError: unknown split 'valid' of MNIST; valid splits are 'train', 'test'
    """
    num_images = _check_split(split, MNIST_SPLITS, "MNIST")
    folder = source_folder(root, "mnist")
    prefix = "t10k" if split == "test" else "train"
    images = _parse_mnist_file(
        f"{prefix}-images-idx3-ubyte.gz",
        folder,
        _IDX_IMAGES,
        (num_images, *IMAGE_SHAPE),
    )
    labels = _parse_mnist_file(
        f"{prefix}-labels-idx1-ubyte.gz", folder, _IDX_LABELS, (num_images,)
    )
    if labels.max(initial=0) > 9:
        raise DataError(
            f"{prefix}-labels-idx1-ubyte.gz holds a label {labels.max()}; digits are 0-9"
        )
    x = torch.from_numpy(
        images.reshape(num_images, IMAGE_SIZE).astype(np.float32) / 255
    )
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


def _check_split(split, splits: dict[str, int], dataset: str) -> int:
    if not isinstance(split, str) or split not in splits:
        valid = ", ".join(repr(s) for s in splits)
        raise ValueError(
            f"unknown split {split!r} of {dataset}; valid splits are {valid}"
        )
    return splits[split]


def _find(folder: Path | None, names: list[str]) -> Path | None:
    """The first of ``names`` that is a file in ``folder``."""
    for name in names if folder is not None else []:
        if (folder / name).is_file():
            return folder / name
    return None


def _download_binarized(
    split: str, name: str, num_images: int, hint: str
) -> np.ndarray:
    """Download (or take from the cache) the text of ``split``, keep its compact copy, drop the text."""
    url = base_url("VAECOURSE_BINARIZED_URL", BINARIZED_URL) + name
    path = fetch(url, cache_dir() / "binarized_mnist", name, BINARIZED_MD5[split], hint)
    try:
        bits = parse_amat(
            read_bytes(path, name), num_images, f"{name} downloaded from {url}"
        )
        check_published(bits, split, f"{name} downloaded from {url}")
    except DataError:
        path.unlink(missing_ok=True)
        raise
    if save_compact(split, bits, url):
        path.unlink(missing_ok=True)  # the compact copy is all the cache needs
    return bits


def _parse_mnist_file(
    name: str, folder: Path | None, magic: int, shape: tuple[int, ...]
) -> np.ndarray:
    """The IDX array in the MNIST file ``name``: from ``folder`` (md5-checked) or the cache or a download."""
    local = _find(folder, [name])
    if local is not None:
        md5 = hashlib.md5(local.read_bytes()).hexdigest()
        if md5 != MNIST_MD5[name]:
            raise DataError(
                f"{name} at {local} is corrupt: its md5 is {md5}, expected {MNIST_MD5[name]}"
            )
        return parse_idx(read_bytes(local), magic, shape, str(local))
    cache = cache_dir() / "mnist"
    url = base_url("VAECOURSE_MNIST_URL", MNIST_URL) + name
    hint = missing_hint(name, "mnist", [f for f in (folder, cache) if f is not None])
    path = fetch(url, cache, name, MNIST_MD5[name], hint)
    return parse_idx(read_bytes(path, name), magic, shape, str(path))

"""Where the course's data sets come from, what their files must hash to, and where they are looked for."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "BINARIZED_MD5",
    "BINARIZED_SPLITS",
    "BINARIZED_URL",
    "CACHE_ENV",
    "DATA_ENV",
    "MNIST_MD5",
    "MNIST_SPLITS",
    "MNIST_URL",
    "DataError",
    "base_url",
    "cache_dir",
    "missing_hint",
    "source_folder",
]

BINARIZED_SPLITS = {"train": 50_000, "valid": 10_000, "test": 10_000}
MNIST_SPLITS = {"train": 60_000, "test": 10_000}

# Base URLs (ending in "/"); the environment variables VAECOURSE_BINARIZED_URL and
# VAECOURSE_MNIST_URL override them.
BINARIZED_URL = "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/"
MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"

BINARIZED_MD5 = {  # md5 of the published, uncompressed binarized_mnist_{split}.amat
    "train": "db28b1a6ae0fe70cbd3da91acf46e477",
    "valid": "bf37822a04e94123630de6a7dfd9c9ef",
    "test": "14e41ae11040adba6ab8cb291eda0dd8",
}
MNIST_MD5 = {  # the official md5 of the gzip files
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
}

DATA_ENV = "VAECOURSE_DATA"  # read-only folder holding binarized_mnist/ and mnist/
CACHE_ENV = "VAECOURSE_CACHE"  # writable folder: downloads and compact copies
_SUBFOLDERS = ("binarized_mnist", "mnist")


class DataError(RuntimeError):
    """A data file is missing, corrupt or cannot be downloaded; the message says how to fix it."""

    __module__ = (
        "vaecourse.data"  # where users import it from, and how tracebacks name it
    )


def cache_dir() -> Path:
    """The cache folder: ``$VAECOURSE_CACHE``, or ``~/.cache/vaecourse`` when it is not set."""
    return Path(
        os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "vaecourse"
    ).expanduser()


def base_url(env: str, default: str) -> str:
    """The base URL ``$env`` (or ``default``), ending in ``/``."""
    url = os.environ.get(env) or default
    return url if url.endswith("/") else url + "/"


def source_folder(root, subfolder: str) -> Path | None:
    """The named folder ``root/subfolder`` (or ``$VAECOURSE_DATA/subfolder``), or None when none is named.

    Raises :class:`DataError` when the named folder does not exist or is ``subfolder`` itself.
    """
    if root is not None:
        base, named = Path(root).expanduser(), f"root={str(root)!r}"
    elif os.environ.get(DATA_ENV):
        base, named = (
            Path(os.environ[DATA_ENV]).expanduser(),
            f"{DATA_ENV}={os.environ[DATA_ENV]!r}",
        )
    else:
        return None
    layout = f"a folder that holds {' and '.join(s + '/' for s in _SUBFOLDERS)}"
    if not base.is_dir():
        raise DataError(
            f"the data folder {named} does not exist or is not a folder; expected {layout}"
        )
    if not (base / subfolder).is_dir() and base.name in _SUBFOLDERS:
        raise DataError(
            f"the data folder {named} is the {base.name}/ folder itself; "
            f"pass its parent {str(base.parent)!r}, {layout}"
        )
    return base / subfolder


def missing_hint(
    name: str, subfolder: str, searched: list[Path], also_gz: bool = False
) -> str:
    """What a user without a network can do when ``name`` is in none of the ``searched`` folders."""
    variants = f"{name} (or {name}.gz)" if also_gz else name
    where = ", ".join(str(f) for f in searched)
    return (
        f"{name} is not in any folder searched ({where}). Without a network, copy {variants} "
        f"into DIR/{subfolder}/ and set the environment variable {DATA_ENV}=DIR (or pass root=DIR)."
    )

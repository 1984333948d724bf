"""The compact copy of a binarized split in the cache: packed bits, checked against the published md5."""

from __future__ import annotations

import contextlib
import os
import secrets
import warnings
from pathlib import Path

import numpy as np

from .formats import IMAGE_SIZE, amat_md5
from .sources import BINARIZED_MD5, CACHE_ENV, DataError, cache_dir

__all__ = ["compact_path", "file_identity", "load_compact", "save_compact"]


def compact_path(split: str) -> Path:
    """Where the compact copy of ``split`` lives; the name carries the md5 it must reproduce."""
    return (
        cache_dir()
        / "binarized_mnist"
        / f"binarized_mnist_{split}-{BINARIZED_MD5[split][:12]}.npz"
    )


def file_identity(path: Path) -> str:
    """A string that changes when ``path`` names another file or the file is rewritten."""
    stat = path.stat()
    return f"{path.resolve()} size={stat.st_size} mtime_ns={stat.st_mtime_ns}"


def save_compact(split: str, bits: np.ndarray, source: str) -> bool:
    """Keep ``bits`` (N, IMAGE_SIZE) of ``split`` as packed bits made from ``source``; False (and a warning)
    when the cache cannot be written. Older compact copies of the split are removed."""
    path = compact_path(split)
    packed = np.packbits(bits, axis=1)  # (N, ceil(IMAGE_SIZE / 8))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(
            f".{path.stem}.{os.getpid()}-{secrets.token_hex(4)}.part"
        )  # unique per save
        try:
            with open(tmp, "xb") as out:
                np.savez_compressed(out, bits=packed, source=np.array(source))
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(
                OSError
            ):  # gone already after os.replace, or never made
                tmp.unlink(missing_ok=True)
    except OSError as error:
        warnings.warn(
            f"could not write the compact copy {path} ({error}); every load will read the source "
            f"again. Set {CACHE_ENV} to a writable folder.",
            stacklevel=3,
        )
        return False
    for old in path.parent.glob(f"binarized_mnist_{split}*.npz"):
        if old != path:
            old.unlink(missing_ok=True)
    return True


def load_compact(
    split: str, num_images: int, source: str | None = None
) -> np.ndarray | None:
    """The cached images of ``split`` as (N, IMAGE_SIZE) uint8, or None when there is no usable copy.

    With ``source`` given, a copy made from another source does not count. A copy whose pixels are not
    the published ones (by the md5 of their text) is deleted with a warning.
    """
    path = compact_path(split)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            packed, made_from = archive["bits"], str(archive["source"])
        if source is not None and made_from != source:
            return None  # made from another file: read the source that was asked for
        shape = (num_images, -(-IMAGE_SIZE // 8))
        if packed.dtype != np.uint8 or packed.shape != shape:
            raise DataError(
                f"it holds {packed.dtype} of shape {packed.shape}, expected uint8 of shape {shape}"
            )
        bits = np.unpackbits(
            packed, axis=1, count=IMAGE_SIZE
        )  # values in {0, 1} by construction
        md5 = amat_md5(bits)
        if md5 != BINARIZED_MD5[split]:
            raise DataError(
                f"its pixels are not the published ones (md5 of their text {md5}, "
                f"expected {BINARIZED_MD5[split]})"
            )
    except Exception as error:  # noqa: BLE001 - np.load fails in many ways; all mean "rebuild it"
        warnings.warn(
            f"the compact copy {path} is corrupt ({error}); deleting it and rebuilding it from the "
            f"source file",
            stacklevel=3,
        )
        path.unlink(missing_ok=True)
        return None
    return bits

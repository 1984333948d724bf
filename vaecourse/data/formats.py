"""The file formats of the data sets: binarized MNIST's ``.amat`` text and MNIST's IDX arrays."""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib
from pathlib import Path

import numpy as np

from .sources import BINARIZED_MD5, DataError

__all__ = [
    "IMAGE_SHAPE",
    "IMAGE_SIZE",
    "amat_md5",
    "check_published",
    "parse_amat",
    "parse_idx",
    "read_bytes",
]

IMAGE_SHAPE = (28, 28)
IMAGE_SIZE = (
    784  # IMAGE_SHAPE[0] * IMAGE_SHAPE[1]; the one place this number is written
)


def read_bytes(path: Path, name: str | None = None) -> bytes:
    """The content of ``path``, decompressed when it is gzip."""
    try:
        with open(path, "rb") as f:
            gzipped = f.read(2) == b"\x1f\x8b"
        return gzip.decompress(path.read_bytes()) if gzipped else path.read_bytes()
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{name or path} is corrupt or truncated ({error})") from None


def amat_md5(bits: np.ndarray) -> str:
    """The md5 of the published ``.amat`` text of ``bits`` (N, IMAGE_SIZE): ``"d d ... d\\n"`` per image.

    >>> text = b" ".join([b"0"] * IMAGE_SIZE) + b"\\n"
    >>> amat_md5(np.zeros((1, IMAGE_SIZE), np.uint8)) == hashlib.md5(text).hexdigest()
    True
    """
    text = np.full(
        (len(bits), 2 * IMAGE_SIZE), ord(" "), dtype=np.uint8
    )  # (N, 2 IMAGE_SIZE)
    text[:, 0::2] = bits + ord("0")
    text[:, -1] = ord("\n")
    return hashlib.md5(text).hexdigest()  # text is C-contiguous: hashed without a copy


def check_published(bits: np.ndarray, split: str, source: str) -> None:
    """Raise :class:`DataError` unless ``bits`` are the published pixels of ``split`` (by the md5 of their text).

    The published files have exactly the layout :func:`amat_md5` writes, so for them this is the md5 of
    the file itself; a copy with other line endings or spacing but the same pixels passes too.
    """
    md5 = amat_md5(bits)
    if md5 != BINARIZED_MD5[split]:
        raise DataError(
            f"{source} is not the published binarized MNIST {split} split: the md5 of its text is {md5}, "
            f"expected {BINARIZED_MD5[split]}. Replace it with the file from the public source."
        )


def parse_amat(raw: bytes, num_images: int, source: str) -> np.ndarray:
    """Parse ``.amat`` text (one image a line, space-separated 0/1) into an (N, IMAGE_SIZE) uint8 array."""
    text = np.frombuffer(raw, dtype=np.uint8)
    width = 2 * IMAGE_SIZE  # "d d ... d\n"
    if (
        len(text) == num_images * width
    ):  # fast path: the exact layout of the public files
        grid = text.reshape(num_images, width)
        digits = grid[:, 0::2]  # (N, IMAGE_SIZE)
        if (
            (
                (digits & 0xFE) == ord("0")
            ).all()  # 0xFE masks the last bit: "0" and "1" both give "0"
            and (grid[:, 1:-1:2] == ord(" ")).all()
            and (grid[:, -1] == ord("\n")).all()
        ):
            return digits - ord("0")
    # any other spacing (\r\n, tabs, trailing blanks), and the diagnosis of corrupt files
    is_bit = (text == ord("0")) | (text == ord("1"))
    is_space = (
        (text == ord(" "))
        | (text == ord("\n"))
        | (text == ord("\t"))
        | (text == ord("\r"))
    )

    def line_of(i: int) -> int:
        return raw.count(b"\n", 0, int(i)) + 1

    if not (is_bit | is_space).all():
        i = np.argmin(is_bit | is_space)
        raise DataError(
            f"{source} is corrupt: unexpected character {chr(text[i])!r} on line {line_of(i)}; "
            f"expected only 0s and 1s separated by spaces"
        )
    adjacent = (
        is_bit[1:] & is_bit[:-1]
    )  # two digits in a row: a value other than 0 or 1
    if adjacent.any():
        raise DataError(
            f"{source} is corrupt: a value other than 0 or 1 on line {line_of(np.argmax(adjacent))}"
        )
    starts = np.concatenate(([0], np.flatnonzero(text == ord("\n")) + 1))
    starts = starts[starts < len(text)]
    counts = (
        np.add.reduceat(is_bit, starts, dtype=np.int64)
        if len(text)
        else np.zeros(0, np.int64)
    )
    counts = (
        counts[: len(counts) - np.argmax(counts[::-1] > 0)]
        if counts.any()
        else counts[:0]
    )  # drop blank tail
    if len(counts) != num_images:
        raise DataError(
            f"{source} is truncated or corrupt: it has {len(counts)} lines, expected {num_images}"
        )
    wrong = np.flatnonzero(counts != IMAGE_SIZE)
    if wrong.size:
        raise DataError(
            f"{source} is truncated or corrupt: line {wrong[0] + 1} has {counts[wrong[0]]} values, "
            f"expected {IMAGE_SIZE}"
        )
    return (text[is_bit] - ord("0")).reshape(num_images, IMAGE_SIZE)


def parse_idx(
    raw: bytes, magic: int, shape: tuple[int, ...], source: str
) -> np.ndarray:
    """Parse an IDX array of unsigned bytes (the MNIST format) and check its magic number and shape."""
    header = 4 * (1 + len(shape))
    if len(raw) < header:
        raise DataError(
            f"{source} is truncated: {len(raw)} bytes, shorter than its header"
        )
    got_magic, *dims = struct.unpack(f">{1 + len(shape)}I", raw[:header])
    if got_magic != magic or tuple(dims) != shape:
        raise DataError(
            f"{source} is not the expected IDX file: magic {got_magic:#06x} and shape {tuple(dims)}, "
            f"expected {magic:#06x} and {shape}"
        )
    body = np.frombuffer(raw, dtype=np.uint8, offset=header)
    if body.size != np.prod(shape):
        raise DataError(
            f"{source} is truncated: {body.size} values, expected {int(np.prod(shape))}"
        )
    return body.reshape(shape)

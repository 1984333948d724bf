"""Binarized and grayscale MNIST: local copies, a cache, and verified downloads."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import secrets
import struct
import urllib.error
import urllib.request
import warnings
import zlib
from pathlib import Path
from typing import Callable, TypeVar

import numpy as np
import torch
from tqdm.auto import tqdm

__all__ = [
    "IMAGE_SHAPE",
    "IMAGE_SIZE",
    "BINARIZED_SPLITS",
    "MNIST_SPLITS",
    "DataError",
    "load_binarized_mnist",
    "load_mnist",
]

IMAGE_SHAPE = (28, 28)
IMAGE_SIZE = 784  # IMAGE_SHAPE[0] * IMAGE_SHAPE[1]; the one place this number is written

BINARIZED_SPLITS = {"train": 50_000, "valid": 10_000, "test": 10_000}
MNIST_SPLITS = {"train": 60_000, "test": 10_000}

# Base URLs (ending in "/"); the environment variables of the same names override them.
BINARIZED_URL = "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/"
MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
MNIST_MD5 = {
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
}

DATA_ENV = "VAECOURSE_DATA"  # read-only folder holding binarized_mnist/ and mnist/
CACHE_ENV = "VAECOURSE_CACHE"  # writable folder: downloads and parsed copies
TIMEOUT = 30.0  # seconds without an answer before a download gives up
_CHUNK = 1 << 16
_SUBFOLDERS = ("binarized_mnist", "mnist")
_IDX_IMAGES, _IDX_LABELS = 0x0803, 0x0801  # IDX magic numbers: unsigned bytes, 3 and 1 dimensions

T = TypeVar("T")


class DataError(RuntimeError):
    """A data file is missing, corrupt or cannot be downloaded; the message says how to fix it."""


def load_binarized_mnist(split: str, root: str | os.PathLike | None = None) -> torch.Tensor:
    """Load a split of the statically binarized MNIST of Larochelle & Murray (2011).

    Source files are looked for in ``root/binarized_mnist/`` (or ``$VAECOURSE_DATA/binarized_mnist/``
    when ``root`` is None), then in the cache folder (``$VAECOURSE_CACHE``, default
    ``~/.cache/vaecourse``), and are otherwise downloaded from :data:`BINARIZED_URL` into the cache.
    Both the public ``.amat`` text and its gzip-compressed ``.amat.gz`` are read. The first load
    parses the text and keeps the images in the cache as packed bits with their sha256
    (``binarized_mnist_{split}.npz``); later loads read that copy, and rebuild it with a warning if
    it is corrupt. ``$VAECOURSE_DATA`` is only read, never written.

    Args:
        split: ``"train"`` (50,000 images), ``"valid"`` (10,000) or ``"test"`` (10,000).
        root: a folder holding ``binarized_mnist/``; None reads ``$VAECOURSE_DATA`` if set.

    Returns:
        x: float32 tensor of shape ``(N, IMAGE_SIZE)`` with values in {0, 1}, one image per row.

    Raises:
        ValueError: ``split`` is not one of the splits above.
        DataError: the file is missing and cannot be downloaded, or it is corrupt.

    >>> load_binarized_mnist("training")
    Traceback (most recent call last):
        ...
    ValueError: unknown split 'training' of binarized MNIST; valid splits are 'train', 'valid', 'test'
    """
    num_images = _check_split(split, BINARIZED_SPLITS, "binarized MNIST")
    folders = _source_folders(root, "binarized_mnist")
    packed_path = _cache_dir() / "binarized_mnist" / f"binarized_mnist_{split}.npz"
    bits = _load_packed(packed_path, num_images)  # (N, IMAGE_SIZE) uint8, or None
    if bits is None:
        name = f"binarized_mnist_{split}.amat"
        found = _find([name, name + ".gz"], folders)
        if found is None:
            url = _base_url("VAECOURSE_BINARIZED_URL", BINARIZED_URL) + name
            bits = _download(
                url,
                folders[-1] / name,
                lambda tmp: _parse_amat(_read_bytes(tmp, name), num_images, f"{name} downloaded from {url}"),
                _missing_hint(name, "binarized_mnist", folders, also_gz=True),
            )
        else:
            path, in_cache = found
            bits = _checked_local(path, in_cache, lambda: _parse_amat(_read_bytes(path), num_images, str(path)))
        _save_packed(packed_path, bits)
    return torch.from_numpy(bits).to(torch.float32)


def load_mnist(split: str = "test", root: str | os.PathLike | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Load a split of the original grayscale MNIST with its digit labels.

    The IDX files (``{t10k,train}-{images-idx3,labels-idx1}-ubyte.gz``) are looked for in
    ``root/mnist/`` (or ``$VAECOURSE_DATA/mnist/``), then in the cache folder, and are otherwise
    downloaded from :data:`MNIST_URL`; every file is checked against its official md5 sum.

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
    folders = _source_folders(root, "mnist")
    prefix = "t10k" if split == "test" else "train"
    images = _parse_idx(_mnist_bytes(f"{prefix}-images-idx3-ubyte.gz", folders), _IDX_IMAGES,
                        (num_images, *IMAGE_SHAPE), f"{prefix}-images-idx3-ubyte.gz")
    labels = _parse_idx(_mnist_bytes(f"{prefix}-labels-idx1-ubyte.gz", folders), _IDX_LABELS,
                        (num_images,), f"{prefix}-labels-idx1-ubyte.gz")
    if labels.max(initial=0) > 9:
        raise DataError(f"{prefix}-labels-idx1-ubyte.gz holds a label {labels.max()}; digits are 0-9")
    x = torch.from_numpy(images.reshape(num_images, IMAGE_SIZE).astype(np.float32) / 255)
    y = torch.from_numpy(labels.astype(np.int64))
    return x, y


# --- where files are --------------------------------------------------------------------------


def _check_split(split, splits: dict[str, int], dataset: str) -> int:
    if not isinstance(split, str) or split not in splits:
        valid = ", ".join(repr(s) for s in splits)
        raise ValueError(f"unknown split {split!r} of {dataset}; valid splits are {valid}")
    return splits[split]


def _cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "vaecourse").expanduser()


def _base_url(env: str, default: str) -> str:
    url = os.environ.get(env) or default
    return url if url.endswith("/") else url + "/"


def _source_folders(root, subfolder: str) -> list[Path]:
    """The folders searched for ``subfolder``'s files, in order; the last one is the cache."""
    if root is not None:
        base, named = Path(root).expanduser(), f"root={str(root)!r}"
    elif os.environ.get(DATA_ENV):
        base, named = Path(os.environ[DATA_ENV]).expanduser(), f"{DATA_ENV}={os.environ[DATA_ENV]!r}"
    else:
        return [_cache_dir() / subfolder]
    layout = f"a folder that holds {' and '.join(s + '/' for s in _SUBFOLDERS)}"
    if not base.is_dir():
        raise DataError(f"the data folder {named} does not exist or is not a folder; expected {layout}")
    if not (base / subfolder).is_dir() and base.name in _SUBFOLDERS:
        raise DataError(
            f"the data folder {named} is the {base.name}/ folder itself; "
            f"pass its parent {str(base.parent)!r}, {layout}"
        )
    return [base / subfolder, _cache_dir() / subfolder]


def _find(names: list[str], folders: list[Path]) -> tuple[Path, bool] | None:
    """The first existing file among ``names`` in ``folders``, and whether it is in the cache."""
    for i, folder in enumerate(folders):
        for name in names:
            if (folder / name).is_file():
                return folder / name, i == len(folders) - 1
    return None


def _missing_hint(name: str, subfolder: str, folders: list[Path], also_gz: bool = False) -> str:
    variants = f"{name} (or {name}.gz)" if also_gz else name
    searched = ", ".join(str(f) for f in folders)
    return (
        f"{name} is not in any folder searched ({searched}). Without a network, copy {variants} "
        f"into DIR/{subfolder}/ and set the environment variable {DATA_ENV}=DIR (or pass root=DIR)."
    )


def _checked_local(path: Path, in_cache: bool, parse: Callable[[], T]) -> T:
    """Run ``parse``; a corrupt file in the cache is deleted so that the next call downloads it."""
    try:
        return parse()
    except DataError as error:
        if not in_cache:
            raise
        path.unlink(missing_ok=True)
        raise DataError(f"{error}. The corrupt file was deleted from the cache; run again to download it.") from error


# --- downloads ----------------------------------------------------------------------------------


def _open_temporary(dest: Path):
    """A new file next to ``dest`` (same folder, so ``os.replace`` is atomic) and its open handle."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f"{dest.name}.{os.getpid()}-{secrets.token_hex(4)}.part")
    return tmp, open(tmp, "xb")


def _download(url: str, dest: Path, check: Callable[[Path], T], hint: str) -> T:
    """Stream ``url`` into a temporary file next to ``dest``, ``check`` it, then move it into place.

    ``check(tmp)`` raises :class:`DataError` on a bad file and otherwise returns the parsed content,
    which is returned. On any failure the temporary file is deleted and ``dest`` is left untouched.
    """
    try:
        tmp, out = _open_temporary(dest)
    except OSError as error:
        raise DataError(f"cannot write to the cache folder {dest.parent} ({error}); set {CACHE_ENV} "
                        f"to a writable folder") from error
    try:
        with out:
            received, expected = _stream(url, out, dest.name, hint)
        if expected is not None and received != expected:
            raise DataError(f"the download of {dest.name} from {url} was cut off after {received} of "
                            f"{expected} bytes; nothing was saved. Run again to retry.")
        result = check(tmp)
        os.replace(tmp, dest)
        return result
    finally:
        tmp.unlink(missing_ok=True)  # gone already after os.replace


def _stream(url: str, out, name: str, hint: str) -> tuple[int, int | None]:
    """Copy the body of ``url`` into ``out`` with a progress bar; return (bytes received, Content-Length)."""
    received, expected = 0, None
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            length = response.headers.get("Content-Length", "")
            expected = int(length) if length.isdigit() else None
            with tqdm(total=expected, unit="B", unit_scale=True, unit_divisor=1024, desc=name) as bar:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
                    bar.update(len(chunk))
                    received += len(chunk)
    except urllib.error.HTTPError as error:
        raise DataError(f"could not download {name}: {url} answered HTTP {error.code} {error.reason}. "
                        f"{hint}") from error
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        reason = getattr(error, "reason", None) or error
        raise DataError(f"could not download {name} from {url} ({reason}). {hint}") from error
    return received, expected


def _mnist_bytes(name: str, folders: list[Path]) -> bytes:
    """The decompressed content of the MNIST file ``name``, found or downloaded, md5-checked."""
    found = _find([name], folders)
    if found is None:
        url = _base_url("VAECOURSE_MNIST_URL", MNIST_URL) + name
        hint = _missing_hint(name, "mnist", folders)
        _download(url, folders[-1] / name, lambda tmp: _check_md5(tmp, name, f"downloaded from {url}"), hint)
        path = folders[-1] / name
    else:
        path, in_cache = found
        _checked_local(path, in_cache, lambda: _check_md5(path, name, "at " + str(path)))
    return _read_bytes(path)


def _check_md5(path: Path, name: str, where: str) -> None:
    md5 = hashlib.md5(path.read_bytes()).hexdigest()
    if md5 != MNIST_MD5[name]:
        raise DataError(f"{name} {where} is corrupt: its md5 is {md5}, expected {MNIST_MD5[name]}")


# --- parsing --------------------------------------------------------------------------------------


def _read_bytes(path: Path, name: str | None = None) -> bytes:
    """The content of ``path``, decompressed when it is gzip."""
    try:
        with open(path, "rb") as f:
            gzipped = f.read(2) == b"\x1f\x8b"
        return gzip.decompress(path.read_bytes()) if gzipped else path.read_bytes()
    except (OSError, EOFError, zlib.error) as error:
        raise DataError(f"{name or path} is corrupt or truncated ({error})") from error


def _parse_amat(raw: bytes, num_images: int, source: str) -> np.ndarray:
    """Parse ``.amat`` text (one image a line, space-separated 0/1) into an (N, IMAGE_SIZE) uint8 array."""
    text = np.frombuffer(raw, dtype=np.uint8)
    width = 2 * IMAGE_SIZE  # "d d ... d\n"
    if len(text) == num_images * width:  # fast path: the exact layout of the public files
        grid = text.reshape(num_images, width)
        digits = grid[:, 0::2]  # (N, IMAGE_SIZE)
        if (((digits & 0xFE) == ord("0")).all()  # 0xFE masks the last bit: "0" and "1" both give "0"
                and (grid[:, 1:-1:2] == ord(" ")).all() and (grid[:, -1] == ord("\n")).all()):
            return digits - ord("0")
    # any other spacing (\r\n, tabs, trailing blanks), and the diagnosis of corrupt files
    is_bit = (text == ord("0")) | (text == ord("1"))
    is_space = (text == ord(" ")) | (text == ord("\n")) | (text == ord("\t")) | (text == ord("\r"))

    def line_of(i: int) -> int:
        return raw.count(b"\n", 0, int(i)) + 1

    if not (is_bit | is_space).all():
        i = np.argmin(is_bit | is_space)
        raise DataError(f"{source} is corrupt: unexpected character {chr(text[i])!r} on line {line_of(i)}; "
                        f"expected only 0s and 1s separated by spaces")
    adjacent = is_bit[1:] & is_bit[:-1]  # two digits in a row: a value other than 0 or 1
    if adjacent.any():
        raise DataError(f"{source} is corrupt: a value other than 0 or 1 on line {line_of(np.argmax(adjacent))}")
    starts = np.concatenate(([0], np.flatnonzero(text == ord("\n")) + 1))
    starts = starts[starts < len(text)]
    counts = np.add.reduceat(is_bit, starts, dtype=np.int64) if len(text) else np.zeros(0, np.int64)
    counts = counts[: len(counts) - np.argmax(counts[::-1] > 0)] if counts.any() else counts[:0]  # drop blank tail
    if len(counts) != num_images:
        raise DataError(f"{source} is truncated or corrupt: it has {len(counts)} lines, expected {num_images}")
    wrong = np.flatnonzero(counts != IMAGE_SIZE)
    if wrong.size:
        raise DataError(f"{source} is truncated or corrupt: line {wrong[0] + 1} has {counts[wrong[0]]} values, "
                        f"expected {IMAGE_SIZE}")
    return (text[is_bit] - ord("0")).reshape(num_images, IMAGE_SIZE)


def _parse_idx(raw: bytes, magic: int, shape: tuple[int, ...], source: str) -> np.ndarray:
    """Parse an IDX array of unsigned bytes (the MNIST format) and check its magic number and shape."""
    header = 4 * (1 + len(shape))
    if len(raw) < header:
        raise DataError(f"{source} is truncated: {len(raw)} bytes, shorter than its header")
    got_magic, *dims = struct.unpack(f">{1 + len(shape)}I", raw[:header])
    if got_magic != magic or tuple(dims) != shape:
        raise DataError(f"{source} is not the expected IDX file: magic {got_magic:#06x} and shape {tuple(dims)}, "
                        f"expected {magic:#06x} and {shape}")
    body = np.frombuffer(raw, dtype=np.uint8, offset=header)
    if body.size != np.prod(shape):
        raise DataError(f"{source} is truncated: {body.size} values, expected {int(np.prod(shape))}")
    return body.reshape(shape)


# --- the parsed binary copy in the cache ----------------------------------------------------------


def _save_packed(path: Path, bits: np.ndarray) -> None:
    """Write ``bits`` (N, IMAGE_SIZE) as packed bits with their sha256, atomically; warn if impossible."""
    packed = np.packbits(bits, axis=1)  # (N, ceil(IMAGE_SIZE / 8))
    digest = hashlib.sha256(packed.tobytes()).hexdigest()
    try:
        tmp, out = _open_temporary(path)
        try:
            with out:
                np.savez(out, bits=packed, sha256=np.array(digest))
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as error:
        warnings.warn(f"could not write the parsed copy {path} ({error}); every load will parse the text "
                      f"again. Set {CACHE_ENV} to a writable folder.", stacklevel=3)


def _load_packed(path: Path, num_images: int) -> np.ndarray | None:
    """The images cached at ``path`` as (N, IMAGE_SIZE) uint8, or None if absent; corrupt copies are deleted."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            packed, digest = archive["bits"], str(archive["sha256"])
        shape = (num_images, -(-IMAGE_SIZE // 8))
        if packed.dtype != np.uint8 or packed.shape != shape:
            raise ValueError(f"it holds {packed.dtype} of shape {packed.shape}, expected uint8 of shape {shape}")
        if hashlib.sha256(packed.tobytes()).hexdigest() != digest:
            raise ValueError("its content does not match its sha256")
    except Exception as error:  # np.load fails in many ways (zip, header, EOF, key); all mean "rebuild it"
        warnings.warn(f"the parsed copy {path} is corrupt ({error}); deleting it and rebuilding it from the "
                      f"source file", stacklevel=3)
        path.unlink(missing_ok=True)
        return None
    return np.unpackbits(packed, axis=1, count=IMAGE_SIZE)  # values in {0, 1} by construction

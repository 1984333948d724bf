"""Checkpoints published beside the book: their registry, and a verified download of one.

The publishing workflow (``.github/workflows/publish.yml``) builds the book in full mode, copies
the checkpoints it trained to the site's ``checkpoints/`` folder and writes their registry
(``published_checkpoints.json``: each file's full key, sha256 and size, and the folder's URL)
beside them with this module's command::

    python -m vaecourse.published CHECKPOINT_FOLDER --base-url URL --out FILE

A maintainer then commits the published registry as ``vaecourse/published_checkpoints.json``
(CONTRIBUTING.md, "Published checkpoints"). :func:`vaecourse.checkpoint.load_or_train` downloads a
published checkpoint only when that registry lists its file with exactly its key, and keeps it only
once its sha256 and its contents have been checked.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from .data.download import _Downloader
from .data.sources import DataError
from .runtime import env_flag

__all__ = [
    "DOWNLOAD_ENV",
    "REGISTRY",
    "REGISTRY_ENV",
    "TIMEOUT",
    "Unavailable",
    "fetch",
    "main",
    "read_registry",
    "registry_of",
]

REGISTRY = Path(__file__).with_name("published_checkpoints.json")
"""The registry that ships with the package."""
# another registry file, e.g. of a mirror
REGISTRY_ENV = "VAECOURSE_CHECKPOINT_REGISTRY"
DOWNLOAD_ENV = "VAECOURSE_DOWNLOAD_CHECKPOINTS"  # 0 turns downloading off
# seconds to connect and per read: an offline machine goes on to train quickly
TIMEOUT = 5.0
_FORMAT = "vaecourse-published-1"
_FILE = re.compile(r"(?P<name>[A-Za-z0-9_.]+)-(?P<key16>[0-9a-f]{16})\.pt")
_HEX64 = re.compile(r"[0-9a-f]{64}")
T = TypeVar("T")


class Unavailable(Exception):
    """No published checkpoint can serve this call; the message says why, in one line."""


def read_registry(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """The checked registry at ``path`` (default ``$VAECOURSE_CHECKPOINT_REGISTRY``, else :data:`REGISTRY`).

    Returns ``{"format", "base_url", "checkpoints": {file name: {"key", "sha256", "size"}}}``, with
    ``base_url`` ending in ``/``. Raises ``ValueError`` naming the file and what is wrong.

    >>> read_registry(REGISTRY)["base_url"].endswith("/checkpoints/")
    True
    """
    named = path is None and bool(os.environ.get(REGISTRY_ENV))
    path = Path(os.environ[REGISTRY_ENV] if named else path or REGISTRY)
    where = f"the checkpoint registry {path}" + (
        f" (named by {REGISTRY_ENV})" if named else ""
    )
    try:
        registry = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read {where}: {error}") from None
    expected = (
        f'expected {{"format": "{_FORMAT}", "base_url": URL, "checkpoints": {{...}}}}'
    )
    if not isinstance(registry, dict) or registry.get("format") != _FORMAT:
        raise ValueError(
            f"{where} is not a registry of published checkpoints; {expected}"
        )
    base_url, entries = registry.get("base_url"), registry.get("checkpoints")
    if not isinstance(base_url, str) or not base_url.startswith(
        ("https://", "http://")
    ):
        raise ValueError(f"{where} has no http(s) 'base_url'; {expected}")
    if not isinstance(entries, dict):
        raise ValueError(f"{where} has no 'checkpoints' object; {expected}")
    for name, entry in entries.items():
        _check_entry(name, entry, where)
    return {**registry, "base_url": base_url.rstrip("/") + "/"}


def _check_entry(name: str, entry: Any, where: str) -> None:
    match = _FILE.fullmatch(name)
    valid = (
        match is not None
        and isinstance(entry, dict)
        and isinstance(entry.get("key"), str)
        and _HEX64.fullmatch(entry["key"]) is not None
        and entry["key"][:16] == match["key16"]
        and isinstance(entry.get("sha256"), str)
        and _HEX64.fullmatch(entry["sha256"]) is not None
        and type(entry.get("size")) is int
        and entry["size"] > 0
    )
    if not valid:
        raise ValueError(
            f"{where} lists {name!r} as {entry!r}; expected a name <name>-<first 16 digits of "
            f"the key>.pt with {{'key': 64 hex digits, 'sha256': 64 hex digits, 'size': bytes}}"
        )


def _sha256_and_size(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest(), path.stat().st_size


def fetch(path: Path, key: str, check: Callable[[Path], T]) -> tuple[T, str]:
    """Download the published checkpoint ``path.name`` of full key ``key`` into ``path``.

    Only a file the registry lists with exactly ``key`` is downloaded. It is written to a temporary
    file beside ``path`` (under the overall deadline of the data downloads, with a connect timeout of
    :data:`TIMEOUT` seconds), checked against the registry's sha256 and size, then passed to
    ``check`` (which raises ``ValueError`` when the contents do not serve), and only then renamed to
    ``path``; the temporary file is removed on every failure. Returns what ``check`` returned and a
    line saying what was downloaded; raises :class:`Unavailable` with the reason otherwise.
    """
    if not env_flag(DOWNLOAD_ENV, default=True):
        raise Unavailable(
            f"downloading published checkpoints is off ({DOWNLOAD_ENV}=0)"
        )
    registry = read_registry()
    entry = registry["checkpoints"].get(path.name)
    if entry is None or entry["key"] != key:
        raise Unavailable("none is published")
    url = registry["base_url"] + path.name
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.part")
    try:
        try:
            hint = f"({DOWNLOAD_ENV}=0 turns downloading off)"
            _Downloader(path.name, hint, timeout=TIMEOUT)(url, str(tmp))
        except DataError as error:
            raise Unavailable(str(error)) from None
        sha256, size = _sha256_and_size(tmp)
        if (sha256, size) != (entry["sha256"], entry["size"]):
            raise Unavailable(
                f"the download of {path.name} from {url} is not the published file (sha256 "
                f"{sha256[:12]}..., {size} bytes; the registry says {entry['sha256'][:12]}..., "
                f"{entry['size']} bytes), so it was discarded"
            )
        try:
            result = check(tmp)
        except ValueError as error:
            reason = str(error).replace(str(tmp), url)
            raise Unavailable(f"the published file cannot be used ({reason})") from None
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):  # gone after os.replace, or never made
            tmp.unlink(missing_ok=True)
    return result, f"downloaded {path.name} ({size / 1e6:.1f} MB) from {url}"


def registry_of(folder: str | os.PathLike, base_url: str) -> dict[str, Any]:
    """The registry of the checkpoints ``<name>-<key16>.pt`` in ``folder``, to be published at ``base_url``.

    Every file is loaded and its key recomputed from the settings it stores; raises ``ValueError``
    listing each file that does not load or whose key is not the one its name says.
    """
    from .checkpoint import _digest, _read_payload, _rebuild

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder of checkpoints")
    if not base_url.startswith(("https://", "http://")):
        raise ValueError(
            f"the base URL must start with https:// or http://, got {base_url!r}"
        )
    entries, refused = {}, []
    for path in sorted(folder.glob("*.pt")):
        match = _FILE.fullmatch(path.name)
        if match is None:
            refused.append(f"{path}: its name is not <name>-<16 hex digits>.pt")
            continue
        try:
            payload = _read_payload(path)
            _rebuild(payload, path)
        except ValueError as error:
            refused.append(str(error))
            continue
        key = _digest(payload["identity"])
        if key[:16] != match["key16"]:
            refused.append(
                f"{path}: the settings it stores have the key {key[:16]}, not the "
                f"{match['key16']} of its name (a renamed or altered file)"
            )
            continue
        sha256, size = _sha256_and_size(path)
        entries[path.name] = {"key": key, "sha256": sha256, "size": size}
    if refused:
        raise ValueError(
            "refused, so no registry was written:\n  " + "\n  ".join(refused)
        )
    return {
        "format": _FORMAT,
        "base_url": base_url.rstrip("/") + "/",
        "checkpoints": entries,
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m vaecourse.published FOLDER --base-url URL --out FILE``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m vaecourse.published",
        description="Write the registry of the checkpoints in FOLDER, published at URL.",
    )
    parser.add_argument("folder", help="the checkpoints to publish, <name>-<key16>.pt")
    parser.add_argument("--base-url", required=True, help="the URL of their folder")
    parser.add_argument("--out", required=True, help="the registry file to write")
    args = parser.parse_args(argv)
    try:
        registry = registry_of(args.folder, args.base_url)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    out = Path(args.out)
    tmp = out.with_name(f".{out.name}.{os.getpid()}-{secrets.token_hex(4)}.part")
    try:
        tmp.write_text(json.dumps(registry, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, out)
    except OSError as error:
        print(f"error: cannot write {out} ({error.strerror or error})", file=sys.stderr)
        return 1
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    count = len(registry["checkpoints"])
    total = sum(entry["size"] for entry in registry["checkpoints"].values())
    print(
        f"wrote {out}: {count} checkpoint{'' if count == 1 else 's'}, "
        f"{total / 1e6:.1f} MB, at {registry['base_url']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Downloads with a known md5: pooch keeps and checks the files, a urllib downloader enforces a deadline."""

from __future__ import annotations

import http.client
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

import pooch
from tqdm.auto import tqdm

from .sources import CACHE_ENV, DataError

__all__ = ["DEADLINE", "DEADLINE_ENV", "TIMEOUT", "fetch"]

TIMEOUT = 30.0  # seconds a connection or a single read may wait for the server
DEADLINE = 1800.0  # seconds a whole download may take (the largest file is 78 MB)
DEADLINE_ENV = "VAECOURSE_DOWNLOAD_DEADLINE"  # overrides DEADLINE
_CHUNK = 1 << 16


def fetch(url: str, folder: Path, name: str, md5: str, hint: str) -> Path:
    """The file ``folder/name`` with the given ``md5``, downloaded from ``url`` unless it is there already.

    pooch checks a file already in ``folder`` and the download against ``md5``; a download is written to
    a temporary file in ``folder`` and moved into place only once its md5 is right, so a failed or bad
    download leaves nothing behind. Every failure is a :class:`DataError` that ends with ``hint``.
    """
    try:
        return Path(
            pooch.retrieve(
                url,
                known_hash=f"md5:{md5}",
                fname=name,
                path=folder,
                downloader=_Downloader(name, hint),
            )
        )
    except ValueError:  # pooch: the md5 of the download is not the known one
        raise DataError(
            f"the download of {name} from {url} is not the published file: its md5 differs from {md5}. "
            f"Nothing was saved; run again to retry. {hint}"
        ) from None
    except OSError as error:  # the cache folder cannot be made or written
        raise DataError(
            f"cannot write {name} to the cache folder {folder} ({error}); set {CACHE_ENV} "
            f"to a writable folder"
        ) from None


def _deadline() -> float:
    value = os.environ.get(DEADLINE_ENV)
    if not value:
        return DEADLINE
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise DataError(f"{DEADLINE_ENV}={value!r} is not a number of seconds above 0")
    return seconds


class _Downloader:
    """A pooch downloader: streams ``url`` into ``output_file`` with a progress bar and an overall deadline."""

    def __init__(self, name: str, hint: str, timeout: float = TIMEOUT):
        # timeout: seconds to connect, and for any single read
        self.name, self.hint, self.timeout = name, hint, timeout

    def __call__(self, url: str, output_file: str, pooch_instance=None) -> None:
        limit = _deadline()
        timeout = min(self.timeout, limit)
        start = time.monotonic()
        received, expected = 0, None
        try:
            with (
                urllib.request.urlopen(url, timeout=timeout) as response,
                open(output_file, "wb") as out,
            ):
                length = response.headers.get("Content-Length", "")
                expected = int(length) if length.isdigit() else None
                with tqdm(
                    total=expected,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=self.name,
                ) as bar:
                    while chunk := response.read1(
                        _CHUNK
                    ):  # read1: whatever has arrived, at most _CHUNK
                        out.write(chunk)
                        bar.update(len(chunk))
                        received += len(chunk)
                        if time.monotonic() - start > limit:
                            self._too_slow(url, limit, received, expected)
        except urllib.error.HTTPError as error:
            raise DataError(
                f"could not download {self.name}: {url} answered HTTP {error.code} {error.reason}. "
                f"{self.hint}"
            ) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
            reason = getattr(error, "reason", None) or error
            if isinstance(reason, TimeoutError) or "timed out" in str(reason):
                reason = f"no answer within {timeout:g} s"
            raise DataError(
                f"could not download {self.name} from {url} ({reason}). {self.hint}"
            ) from None
        if expected is not None and received != expected:
            raise DataError(
                f"the download of {self.name} from {url} was cut off after {received} of "
                f"{expected} bytes; nothing was saved. Run again to retry."
            )

    def _too_slow(self, url: str, limit: float, received: int, expected: int | None):
        of = f" of {expected}" if expected is not None else ""
        raise DataError(
            f"the download of {self.name} from {url} did not finish within {limit:g} s ({received}{of} bytes "
            f"arrived); nothing was saved. The server is slow or stalled: run again later, or allow longer "
            f"with {DEADLINE_ENV}=SECONDS. {self.hint}"
        )

"""Trained models on disk, keyed by everything that determines their weights."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .protocol import MODEL_REGISTRY, CourseModel
from .runtime import checkpoint_dir

__all__ = [
    "CHECKPOINTS_ENV",
    "CheckpointError",
    "load_checkpoint",
    "load_or_train",
    "plain",
    "save_checkpoint",
]

_FORMAT = "vaecourse-checkpoint-2"
CHECKPOINTS_ENV = "VAECOURSE_CHECKPOINTS"  # read by vaecourse.runtime.checkpoint_dir


class CheckpointError(OSError):
    """A checkpoint folder or file cannot be written; the message names it and says what to do."""


def plain(value: Any, where: str = "value") -> Any:
    """``value`` with numpy and torch numbers turned into Python ones, so that ``weights_only`` loads read it.

    Dicts, lists and tuples are converted item by item; anything else that is not a number, string,
    bool or None raises ``TypeError`` naming ``where``.

    >>> plain({"loss": np.float32(0.5), "curve": np.array([1, 2]), "n": torch.tensor(3)})
    {'loss': 0.5, 'curve': [1, 2], 'n': 3}
    """
    if isinstance(value, (np.generic, np.ndarray)):  # first: np.float64 is also a float
        return value.tolist()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().tolist()
    if isinstance(value, dict):
        return {
            plain(k, f"a key of {where}"): plain(v, f"{where}[{k!r}]")
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return type(value)(plain(v, f"{where}[{i}]") for i, v in enumerate(value))
    raise TypeError(
        f"{where} is a {type(value).__name__}; a checkpoint keeps only numbers, strings, bools, "
        f"None, and lists, tuples and dicts of them"
    )


def _digest(identity: dict) -> str:
    """sha256 of the canonical JSON of ``identity`` (sorted keys, tuples as lists)."""
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def save_checkpoint(
    model: CourseModel,
    path: str | os.PathLike,
    extra: dict[str, Any] | None = None,
    identity: dict[str, Any] | None = None,
) -> Path:
    """Write ``model`` (class name, ``config``, state dict), ``extra`` and ``identity`` (plain data) to ``path``.

    The file is written under a temporary name unique to this save, in the same folder, and then renamed,
    so concurrent saves never collide and a reader never sees half a file; the temporary file is removed
    on every failure. Raises :class:`CheckpointError` naming ``path`` when it cannot be written.
    """
    if not isinstance(model, CourseModel):
        raise TypeError(
            f"only vaecourse models can be checkpointed, got {type(model).__name__}"
        )
    path = Path(path)
    payload = {
        "format": _FORMAT,
        "class": type(model).__name__,
        "config": plain(model.config, "the config"),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "extra": plain(extra or {}, "extra"),
        "identity": plain(identity or {}, "identity"),
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "xb") as out:
            torch.save(payload, out)
        os.replace(tmp, path)
    except (
        OSError,
        RuntimeError,
    ) as error:  # torch reports some write failures as RuntimeError
        reason = getattr(error, "strerror", None) or " ".join(str(error).split())
        raise CheckpointError(
            f"cannot write the checkpoint {path} ({reason}); set {CHECKPOINTS_ENV} "
            f"to a writable folder"
        ) from None
    finally:
        with contextlib.suppress(
            OSError
        ):  # gone already after os.replace, or never made
            tmp.unlink(missing_ok=True)
    return path


def _read_payload(path: Path, map_location="cpu") -> dict:
    """The checked contents of the checkpoint at ``path``; ``ValueError`` with a one-line reason if unusable."""
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # noqa: BLE001 - truncated or foreign files raise many different errors
        reason = " ".join(str(error).split())[:200]
        raise ValueError(
            f"{path} is not a readable vaecourse checkpoint ({reason})"
        ) from None
    if not isinstance(payload, dict) or not str(payload.get("format", "")).startswith(
        "vaecourse-checkpoint"
    ):
        raise ValueError(
            f"{path} is not a vaecourse checkpoint (expected format {_FORMAT!r})"
        )
    if payload["format"] != _FORMAT:
        raise ValueError(
            f"{path} has the older format {payload['format']!r}, expected {_FORMAT!r}"
        )
    fields = {
        "class": str,
        "config": dict,
        "state_dict": dict,
        "extra": dict,
        "identity": dict,
    }
    for field, kind in fields.items():
        if not isinstance(payload.get(field), kind):
            # a ValueError: the file's content is wrong, not an argument's type
            raise ValueError(  # noqa: TRY004
                f"{path} lacks a valid {field!r} entry; it is not a complete vaecourse checkpoint"
            )
    return payload


def _rebuild(payload: dict, path: Path) -> CourseModel:
    name, config = payload["class"], payload["config"]
    if name not in MODEL_REGISTRY:
        raise ValueError(
            f"{path} holds a {name}, which this version of vaecourse does not define; "
            f"known models: {sorted(MODEL_REGISTRY)}"
        )
    try:
        model = MODEL_REGISTRY[name](**config)
    except (TypeError, ValueError) as error:
        raise ValueError(
            f"{path} holds a {name} config that this version cannot build ({error})"
        ) from None
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as error:  # missing, unexpected or differently shaped tensors
        reason = " ".join(str(error).split())[:200]
        raise ValueError(
            f"{path} holds weights that do not fit its {name} config ({reason})"
        ) from None
    return model.eval()


def load_checkpoint(
    path: str | os.PathLike,
    map_location: str | torch.device = "cpu",
    with_extra: bool = False,
):
    """Rebuild the model saved at ``path`` (loaded with ``weights_only=True``: no code runs).

    Returns the model in eval mode, or ``(model, extra)`` with ``with_extra=True``. Raises
    ``FileNotFoundError`` if there is no file and ``ValueError``, with the reason, if it is not a usable
    checkpoint (unreadable, foreign, an older format, a config or weights this version cannot build).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    payload = _read_payload(path, map_location)
    model = _rebuild(payload, path)
    return (model, payload["extra"]) if with_extra else model


def _check_writable(folder: Path) -> None:
    """Raise :class:`CheckpointError` unless a file can be created in ``folder`` (made if missing)."""
    probe = folder / f".write-test.{os.getpid()}-{secrets.token_hex(4)}.part"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(probe, "xb"):
            pass
        probe.unlink()
    except OSError as error:
        raise CheckpointError(
            f"cannot save checkpoints in {folder} ({error.strerror or error}), so a trained model would be "
            f"lost; set {CHECKPOINTS_ENV} to a writable folder (or pass directory=...)"
        ) from None


def _differences(old: Any, new: Any, where: str = "") -> list[str]:
    """The leaves where two identities differ, as ``"settings.epochs 1 -> 10"``."""
    if isinstance(old, dict) and isinstance(new, dict):
        return [
            d
            for k in sorted(set(old) | set(new), key=str)
            for d in _differences(
                old.get(k), new.get(k), f"{where}.{k}" if where else str(k)
            )
        ]
    if (
        isinstance(old, (list, tuple))
        and isinstance(new, (list, tuple))
        and list(old) == list(new)
    ):
        return []
    return [] if old == new else [f"{where} {old!r} -> {new!r}"]


def _why_not_reused(folder: Path, name: str, identity: dict) -> str | None:
    """Why the newest other checkpoint called ``name`` in ``folder`` does not serve, or None if there is none."""
    pattern = re.compile(re.escape(name) + r"(-[0-9a-f]{16})?\.pt")
    others = (
        [p for p in folder.glob(f"{name}*.pt") if pattern.fullmatch(p.name)]
        if folder.is_dir()
        else []
    )
    if not others:
        return None
    newest = max(others, key=lambda p: p.stat().st_mtime)
    try:
        stored = _read_payload(newest)["identity"]
    except ValueError as error:
        return str(error)
    changes = _differences(stored, identity)
    return f"{newest} was trained differently ({'; '.join(changes[:4]) or 'another key'}); it stays on disk"


def load_or_train(
    name: str,
    make_model,
    fit,
    settings: dict[str, Any] | None = None,
    directory: str | os.PathLike | None = None,
    retrain: bool = False,
):
    """Load the checkpoint of ``make_model()`` trained with ``settings``, or train it with ``fit`` and save it.

    The checkpoint is keyed by everything that determines the trained weights: the model's class and
    ``config``, the training ``settings`` (epochs, step size, batch size, estimator, data, seed, ...)
    and the vaecourse version that trains it. The key is the sha256 of their canonical JSON; the file is
    ``<name>-<key[:16]>.pt`` and holds the key's ingredients, which a load checks again. A checkpoint
    that is stale (other settings), foreign, of an older format, unreadable, or whose weights do not fit
    the config is not used. The model comes from the first of: the checkpoint folder; the checkpoint
    published beside the book, when the package's registry lists this file with exactly this key
    (downloaded, checked against its sha256 and loaded with the same checks before it is kept, see
    :mod:`vaecourse.published`; ``VAECOURSE_DOWNLOAD_CHECKPOINTS=0`` turns this off); training. One
    line on stderr says which, and why it trains. The folder is checked for writing before a download
    or training starts, so a trained model is never lost to it.

    Args:
        name: file stem, e.g. ``"ch03_vae_z20"``.
        make_model: ``() -> model``, an untrained model.
        fit: ``(model) -> extra``, trains the model in place and returns data to keep (numbers, strings,
            lists, dicts; numpy and torch numbers are converted), e.g. ``{"seconds": 12.3}``.
        settings: plain data that, with the model, determine the result of ``fit``.
        directory: where checkpoints live (default :func:`vaecourse.runtime.checkpoint_dir`).
        retrain: ignore an existing checkpoint.

    Returns:
        ``(model, extra)``; ``extra["loaded"]`` says whether the model was loaded rather than
        trained, ``extra["source"]`` is ``"cache"``, ``"published"`` or ``"trained"``, and
        ``extra["checkpoint"]`` is the file's path.
    """
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.]+", name):
        raise ValueError(
            f"a checkpoint name is letters, digits, '_' and '.', got {name!r}"
        )
    import vaecourse

    model = make_model()
    identity = {
        "format": _FORMAT,
        "model": type(model).__name__,
        "config": plain(model.config, "the config"),
        "settings": plain(settings or {}, "settings"),
        "vaecourse": str(getattr(vaecourse, "__version__", "unknown")),
    }
    folder = Path(directory) if directory is not None else checkpoint_dir()
    key = _digest(identity)
    path = folder / f"{name}-{key[:16]}.pt"

    def matching(candidate: Path) -> tuple[CourseModel, dict]:
        payload = _read_payload(candidate)
        if _digest(payload["identity"]) != key:
            changes = "; ".join(_differences(payload["identity"], identity)[:4])
            raise ValueError(f"{candidate} was saved for other settings ({changes})")
        return _rebuild(payload, candidate), payload["extra"]

    def found(saved: CourseModel, extra: dict, source: str, line: str):
        print(f"{name}: {line}", file=sys.stderr)
        info = {"loaded": True, "source": source, "checkpoint": str(path)}
        return saved.to(model.device), {**extra, **info}

    reasons = ["retrain=True was asked"] if retrain else []
    if path.is_file() and not retrain:
        try:
            return found(*matching(path), "cache", f"loaded {path.name} from the cache")
        except ValueError as error:
            reasons.append(f"{error}; it will be replaced")
    elif not retrain:
        reasons.append(
            _why_not_reused(folder, name, identity)
            or f"none of these settings is in {folder}"
        )
    _check_writable(folder)
    if not retrain:
        from . import published  # it reads this module's checks

        try:
            (saved, extra), line = published.fetch(path, key, matching)
            return found(saved, extra, "published", f"{line}, because {reasons[0]}")
        except published.Unavailable as why:
            reasons.append(str(why))
    print(f"{name}: training, because {'; '.join(reasons)}", file=sys.stderr)
    extra = plain(dict(fit(model) or {}), "the result of fit")
    save_checkpoint(model, path, extra=extra, identity=identity)
    return model, {
        **extra,
        "loaded": False,
        "source": "trained",
        "checkpoint": str(path),
    }

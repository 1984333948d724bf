"""Saving and loading trained models: the state dict together with the constructor arguments."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from .protocol import MODEL_REGISTRY, CourseModel
from .runtime import checkpoint_dir

__all__ = ["save_checkpoint", "load_checkpoint", "load_or_train"]

_FORMAT = "vaecourse-checkpoint-1"


def save_checkpoint(model: CourseModel, path: str | os.PathLike, extra: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (class name, ``config``, state dict) and optional ``extra`` plain data to ``path``.

    The file is written to a temporary name and then renamed, so a crash never
    leaves a half-written checkpoint behind.
    """
    if not isinstance(model, CourseModel):
        raise TypeError(f"only vaecourse models can be checkpointed, got {type(model).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    payload = {"format": _FORMAT, "class": type(model).__name__, "config": model.config,
               "state_dict": state, "extra": extra or {}}
    tmp = path.with_name(path.name + ".part")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu",
                    with_extra: bool = False):
    """Rebuild the model saved at ``path`` (loaded with ``weights_only=True``: no code runs).

    Returns the model in eval mode, or ``(model, extra)`` with ``with_extra=True``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # truncated or foreign files raise many different errors
        raise ValueError(f"{path} is not a readable vaecourse checkpoint ({err}); delete it and retrain") from err
    if not isinstance(payload, dict) or payload.get("format") != _FORMAT:
        raise ValueError(f"{path} is not a vaecourse checkpoint (expected format {_FORMAT!r})")
    name = payload["class"]
    if name not in MODEL_REGISTRY:
        raise ValueError(f"{path} holds a {name}, which this version of vaecourse does not define; "
                         f"known models: {sorted(MODEL_REGISTRY)}")
    model = MODEL_REGISTRY[name](**payload["config"])
    model.load_state_dict(payload["state_dict"])
    model.eval()
    return (model, payload["extra"]) if with_extra else model


def load_or_train(name: str, make_model, fit, directory: str | os.PathLike | None = None, retrain: bool = False):
    """Load the checkpoint ``name`` if it exists and matches ``make_model()``'s config, else train and save it.

    Later chapters reuse models trained by earlier ones this way instead of training them again.

    Args:
        name: file stem, e.g. ``"ch03_vae_z20"``.
        make_model: ``() -> model``, an untrained model (its ``config`` must match the saved one).
        fit: ``(model) -> extra``, trains the model in place and returns plain data to keep
            (e.g. ``{"seconds": 12.3}``).
        directory: where checkpoints live (default :func:`vaecourse.runtime.checkpoint_dir`).
        retrain: ignore an existing checkpoint.

    Returns:
        ``(model, extra)``; ``extra["loaded"]`` says whether the model came from disk.
    """
    path = Path(directory or checkpoint_dir()) / f"{name}.pt"
    model = make_model()
    if path.is_file() and not retrain:
        try:
            saved, extra = load_checkpoint(path, with_extra=True)
        except ValueError:
            saved = None
        if saved is not None and type(saved) is type(model) and saved.config == model.config:
            return saved.to(model.device), {**extra, "loaded": True}
    extra = dict(fit(model) or {})
    save_checkpoint(model, path, extra=extra)
    return model, {**extra, "loaded": False}

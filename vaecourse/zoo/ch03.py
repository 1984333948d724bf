"""Chapter 3's models: Gaussian VAEs with a 2-D and a 20-D latent, and a sweep over the KL weight beta."""

from __future__ import annotations

from ..checkpoint import load_or_train
from ..data import IMAGE_SIZE
from ..gaussian_vae import GaussianVAE
from ..runtime import pick
from ._training import fit as fit_with
from ._training import summary

__all__ = ["SETTINGS", "BETAS", "vae_2d", "vae_z20", "vae_beta"]

SETTINGS = dict(
    hidden=(400,),  # one hidden ReLU layer each way, as in the report (section 5.1.1)
    batch_size=128,
    lr=1e-3,
)
"""What every model of chapter 3 shares; only the latent size, beta and the training length differ."""

BETAS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
"""The KL weights of the beta sweep."""


def _training(epochs: int, seed: int = 0) -> dict:
    """Everything besides the model that determines a trained chapter-3 model (the checkpoint's key)."""
    return dict(
        epochs=epochs,
        batch_size=SETTINGS["batch_size"],
        lr=SETTINGS["lr"],
        seed=seed,
        data="binarized_mnist",
        num_train=pick(full=None, quick=3000),
        num_valid=pick(full=2000, quick=500),
    )


def _load_or_train(name: str, make, epochs: int, desc: str, retrain: bool):
    training = _training(epochs)
    return load_or_train(
        name,
        make,
        lambda model: _fit(model, training, desc),
        settings=training,
        retrain=retrain,
    )


def _fit(model, training: dict, desc: str):
    history, num_train = fit_with(model, training, desc)
    return {
        **summary(history, num_train),
        "train_recon": history.train["recon"],
        "train_kl": history.train["kl"],
    }


def _gaussian_vae(z_dim: int, beta: float = 1.0) -> GaussianVAE:
    return GaussianVAE(IMAGE_SIZE, z_dim=z_dim, hidden=SETTINGS["hidden"], beta=beta)


def vae_2d(retrain: bool = False):
    """The Gaussian VAE ``784-400-2`` (checkpoint ``ch03_vae_z2``): a latent plane that can be drawn.

    Returns:
        ``(model, info)``; ``info`` holds ``seconds``, ``loaded``, ``epochs``, ``num_train`` and the
        per-epoch curves ``train_elbo``, ``valid_elbo``, ``train_recon``, ``train_kl`` (nats).
    """
    return _load_or_train(
        "ch03_vae_z2",
        lambda: _gaussian_vae(2),
        pick(full=15, quick=2),
        "Gaussian VAE, z=2",
        retrain,
    )


def vae_z20(retrain: bool = False):
    """The Gaussian VAE ``784-400-20`` (checkpoint ``ch03_vae_z20``), the chapter's scored model.

    Returns:
        ``(model, info)`` as :func:`vae_2d`.
    """
    return _load_or_train(
        "ch03_vae_z20",
        lambda: _gaussian_vae(20),
        pick(full=40, quick=2),
        "Gaussian VAE, z=20",
        retrain,
    )


def vae_beta(beta: float, retrain: bool = False):
    """A ``784-400-20`` VAE trained on the beta-weighted objective (checkpoint ``ch03_vae_beta<beta>``).

    The sweep trains for fewer epochs than :func:`vae_z20`; within the sweep every beta gets the same
    budget, so the models differ only in beta.

    Returns:
        ``(model, info)`` as :func:`vae_2d`.
    """
    if not beta >= 0:
        raise ValueError(f"beta must be a non-negative number, got {beta!r}")
    return _load_or_train(
        f"ch03_vae_beta{beta:g}",
        lambda: _gaussian_vae(20, beta=beta),
        pick(full=4, quick=1),
        f"beta = {beta:g}",
        retrain,
    )

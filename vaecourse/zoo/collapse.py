"""The collapse chapter's models: Gaussian VAEs measured along training, with and without remedies, and a learned prior."""

from __future__ import annotations

import math

from ..checkpoint import load_or_train
from ..collapse import train_recorded
from ..data import IMAGE_SIZE
from ..gaussian_vae import GaussianVAE
from ..learned_prior import MixturePriorVAE
from ..protocol import check_non_negative
from ..runtime import pick
from ._training import data_for
from ._training import fit as fit_with

__all__ = [
    "SETTINGS",
    "REMEDIES",
    "PRIOR_SETTINGS",
    "RECORD_EVERY",
    "recorded_vae",
    "mixture_prior_vae",
]

SETTINGS = {
    20: dict(hidden=(400,), batch_size=128, lr=1e-3, epochs=pick(full=20, quick=1)),
    64: dict(hidden=(200,), batch_size=100, lr=1e-3, epochs=pick(full=8, quick=1)),
}
"""Per latent size, the networks and optimiser of the course's VAE of that size: chapter 3's
20-D VAE and the 64-D Gaussian VAE of the binary-latents chapter (the 20-D one for fewer epochs)."""

RECORD_EVERY = pick(full=100, quick=4)
"""Training steps between two measurements of a recorded model."""

REMEDIES = dict(warmup_epochs=pick(full=4, quick=1), free_bits=0.25)
"""The two remedies measured: the KL weight's warm-up in epochs, and free bits in nats per dimension."""

PRIOR_SETTINGS = dict(
    z_dim=2, hidden=(400,), num_components=30, batch_size=128, lr=1e-3,
    epochs=pick(full=15, quick=2),
)  # fmt: skip
"""The learned-prior VAE: chapter 3's 2-D VAE (its training too) with the 30 components of the
autoencoder-plus-mixture's mixture."""


def _training(z_dim: int) -> dict:
    """Everything besides the model that determines a recorded model (the checkpoint's key)."""
    s = SETTINGS[z_dim]
    return dict(
        epochs=s["epochs"],
        batch_size=s["batch_size"],
        lr=s["lr"],
        seed=0,
        data="binarized_mnist",
        num_train=pick(full=None, quick=2000),
        num_valid=pick(full=1000, quick=300),
        record_every=RECORD_EVERY,
    )


def recorded_vae(
    z_dim: int, warmup_epochs: int = 0, free_bits: float = 0.0, retrain: bool = False
):
    """A Gaussian VAE with ``z_dim`` latents (20 or 64), measured every few steps as it trains.

    Checkpoint ``collapse_vae_z<Dz>``, with ``_warmup<E>`` for a KL warm-up over ``warmup_epochs``
    epochs and ``_fb<kappa>`` for ``free_bits`` nats per dimension.

    Returns:
        ``(model, info)``; ``info`` holds ``seconds``, ``loaded``, ``num_train``, ``num_valid``,
        ``warmup_steps``
        and the record of :func:`~vaecourse.collapse.train_recorded` (``step``, ``active``,
        ``rate``, ``valid_elbo``, ``train_elbo``, ``kl_per_dim``).
    """
    if z_dim not in SETTINGS:
        raise ValueError(f"z_dim must be one of {sorted(SETTINGS)}, got {z_dim!r}")
    if isinstance(warmup_epochs, bool) or not isinstance(warmup_epochs, int):
        raise ValueError(
            f"warmup_epochs must be an integer >= 0, got {warmup_epochs!r}"
        )
    if warmup_epochs < 0:
        raise ValueError(
            f"warmup_epochs must be an integer >= 0, got {warmup_epochs!r}"
        )
    free_bits = check_non_negative(free_bits, "free_bits")
    training = _training(z_dim)
    x_train, x_valid = data_for(training)
    steps_per_epoch = math.ceil(len(x_train) / training["batch_size"])
    warmup_steps = warmup_epochs * steps_per_epoch
    name = f"collapse_vae_z{z_dim}"
    name += f"_warmup{warmup_epochs}" if warmup_epochs else ""
    name += f"_fb{free_bits:g}" if free_bits else ""

    def make():
        return GaussianVAE(
            IMAGE_SIZE, z_dim=z_dim, hidden=SETTINGS[z_dim]["hidden"],
            kl_warmup=warmup_steps, free_bits=free_bits,
        )  # fmt: skip

    def fit(model):
        record = train_recorded(
            model, x_train, x_valid, epochs=training["epochs"],
            batch_size=training["batch_size"], lr=training["lr"], seed=training["seed"],
            every=training["record_every"],
        )  # fmt: skip
        return dict(
            record, num_train=len(x_train), num_valid=len(x_valid),
            warmup_steps=warmup_steps,
        )  # fmt: skip

    return load_or_train(name, make, fit, settings=training, retrain=retrain)


def mixture_prior_vae(retrain: bool = False):
    """The 2-D VAE with a 30-component mixture prior learned jointly (checkpoint ``collapse_mixture_prior_z2``).

    Returns:
        ``(model, info)``; ``info`` holds ``seconds``, ``loaded``, ``epochs``, ``num_train`` and
        the per-epoch curves ``train_elbo``, ``valid_elbo`` and ``train_kl`` (nats).
    """
    s = PRIOR_SETTINGS
    training = dict(
        epochs=s["epochs"],
        batch_size=s["batch_size"],
        lr=s["lr"],
        seed=0,
        data="binarized_mnist",
        num_train=pick(full=None, quick=3000),
        num_valid=pick(full=2000, quick=500),
    )  # the training of chapter 3's 2-D VAE

    def make():
        return MixturePriorVAE(
            IMAGE_SIZE, z_dim=s["z_dim"], hidden=s["hidden"],
            num_components=s["num_components"],
        )  # fmt: skip

    def fit(model):
        history, num_train = fit_with(model, training, "VAE, mixture prior, z=2")
        return {
            "seconds": history.seconds,
            "epochs": history.epoch,
            "num_train": num_train,
            "train_elbo": history.train["elbo"],
            "valid_elbo": history.valid["elbo"],
            "train_kl": history.train["kl"],
        }

    return load_or_train(
        "collapse_mixture_prior_z2", make, fit, settings=training, retrain=retrain
    )

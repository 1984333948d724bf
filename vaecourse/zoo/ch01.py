"""Chapter 1's model: a deterministic autoencoder with a 2-D code (chapter 10 reuses it)."""

from __future__ import annotations

from ..autoencoder import Autoencoder
from ..checkpoint import load_or_train
from ..data import IMAGE_SIZE
from ..runtime import pick
from ._training import fit as fit_with

__all__ = ["AUTOENCODER_SETTINGS", "autoencoder_2d"]

AUTOENCODER_SETTINGS = dict(
    z_dim=2,  # a code that can be drawn in the plane
    hidden=(512, 256),  # encoder widths; the decoder mirrors them
    batch_size=128,
    lr=1e-3,
)
"""The architecture and optimiser of the chapter-1 autoencoder."""


def autoencoder_2d(retrain: bool = False):
    """The chapter-1 autoencoder ``784-512-256-2`` (mirrored decoder), trained on binarized MNIST.

    Loads the checkpoint ``ch01_autoencoder`` when it exists; otherwise trains with the chapter's
    settings (all 50,000 training images in full mode, a subset and one epoch in quick mode).

    Returns:
        ``(model, info)``; ``info`` holds ``seconds`` (training time), ``loaded``, ``epochs``,
        ``num_train`` and the per-epoch curves ``train_loss`` and ``valid_loss`` (nats per image).
    """

    def make():
        return Autoencoder(
            IMAGE_SIZE,
            z_dim=AUTOENCODER_SETTINGS["z_dim"],
            hidden=AUTOENCODER_SETTINGS["hidden"],
        )

    training = dict(
        epochs=pick(full=12, quick=2),
        batch_size=AUTOENCODER_SETTINGS["batch_size"],
        lr=AUTOENCODER_SETTINGS["lr"],
        seed=0,
        data="binarized_mnist",
        num_train=pick(full=None, quick=4000),
        num_valid=pick(full=2000, quick=500),
    )

    def fit(model):
        history, num_train = fit_with(model, training, "autoencoder, 2-D code")
        return {
            "seconds": history.seconds,
            "epochs": history.epoch,
            "num_train": num_train,
            "train_loss": history.train["loss"],
            "valid_loss": history.valid["loss"],
        }

    return load_or_train(
        "ch01_autoencoder", make, fit, settings=training, retrain=retrain
    )

"""Chapter 10's model: chapter 1's 2-D autoencoder with a 30-component Gaussian mixture over its codes."""

from __future__ import annotations

import os
import time

from ..ae_gmm import AutoencoderGMM
from ..checkpoint import load_or_train
from ..data import load_binarized_mnist
from ..runtime import pick
from .ch01 import autoencoder_2d

__all__ = ["GMM_SETTINGS", "ae_gmm"]

GMM_SETTINGS = dict(
    num_components=30,  # as in the report (section 5.3)
    proposal_scales=(
        0.01,
        0.03,
        0.1,
        0.3,
        1.0,
        3.0,
    ),  # candidate s for q(z | x) = N(f(x), s^2 I)
    tuning_samples=100,  # K of the IW estimate that picks s
    seed=0,
)
"""The mixture and the scoring proposal of the chapter-10 model."""


def ae_gmm(retrain: bool = False):
    """Chapter 1's autoencoder (:func:`~vaecourse.zoo.ch01.autoencoder_2d`) with a mixture fitted to its training codes.

    Loads the checkpoint ``ch07_ae_gmm`` when it exists. Otherwise it fits a 30-component,
    full-covariance mixture to the codes of the training images (all 50,000 in full mode), then
    picks the proposal scale :math:`s` that maximises the IW estimate (K = 100) on validation
    images (1,000 in full mode, 200 in quick mode).

    Returns:
        ``(model, info)``; ``info`` holds ``seconds`` (the autoencoder's training time plus the
        mixture's fitting time), ``ae_seconds``, ``gmm_seconds``, ``loaded``, ``num_train``,
        ``proposal_scale`` and ``scale_search`` (the mean validation IW estimate per scale tried).
    """
    autoencoder, ae_info = autoencoder_2d()
    s = GMM_SETTINGS
    settings = dict(
        s,
        data="binarized_mnist",
        num_train=pick(full=None, quick=4000),
        num_valid=pick(full=1000, quick=200),
        autoencoder=os.path.basename(ae_info["checkpoint"]),
    )  # its name carries its own key

    def make():
        return AutoencoderGMM(**autoencoder.config, num_components=s["num_components"])

    def fit(model):
        model.autoencoder.load_state_dict(autoencoder.state_dict())
        x_train = load_binarized_mnist("train")[: settings["num_train"]]
        start = time.perf_counter()
        model.fit_gmm(model.codes(x_train), seed=s["seed"])
        gmm_seconds = time.perf_counter() - start
        x_valid = load_binarized_mnist("valid")[: settings["num_valid"]]
        search = model.tune_proposal_scale(
            x_valid, s["proposal_scales"], num_samples=s["tuning_samples"]
        )
        return {
            "seconds": ae_info["seconds"] + gmm_seconds,
            "ae_seconds": ae_info["seconds"],
            "gmm_seconds": gmm_seconds,
            "num_train": len(x_train),
            "proposal_scale": float(model.proposal_scale),
            "scale_search": {str(k): v for k, v in search.items()},
        }

    model, info = load_or_train(
        "ch07_ae_gmm", make, fit, settings=settings, retrain=retrain
    )
    return model, info

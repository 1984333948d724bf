"""vaecourse: the helper package of an open course on variational auto-encoders."""

from . import (
    checkpoint,
    data,
    densities,
    estimators,
    evaluate,
    nets,
    plots,
    protocol,
    runtime,
    threads,  # first: sets the thread policy before torch loads (see vaecourse/threads.py)
)
from .ae_gmm import AutoencoderGMM
from .autoencoder import Autoencoder
from .bernoulli_vae import BernoulliVAE
from .checkpoint import load_checkpoint, load_or_train, save_checkpoint
from .data import load_binarized_mnist, load_mnist
from .evaluate import elbo, iw_log_likelihood
from .gaussian_vae import GaussianVAE
from .learned_prior import MixturePriorVAE
from .ppca import ProbabilisticPCA
from .runtime import QUICK, default_device, is_quick, pick, seed_everything
from .sbn import AmortisedSBN, SigmoidBeliefNet
from .train import History, train

__version__ = "0.1.0"  # the one place the version is written (pyproject.toml reads it)

__all__ = [
    "AmortisedSBN",
    "Autoencoder",
    "AutoencoderGMM",
    "BernoulliVAE",
    "GaussianVAE",
    "History",
    "MixturePriorVAE",
    "ProbabilisticPCA",
    "QUICK",
    "SigmoidBeliefNet",
    "default_device",
    "elbo",
    "is_quick",
    "iw_log_likelihood",
    "load_binarized_mnist",
    "load_checkpoint",
    "load_mnist",
    "load_or_train",
    "pick",
    "save_checkpoint",
    "seed_everything",
    "train",
]

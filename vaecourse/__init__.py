"""vaecourse: the helper package of an open course on variational auto-encoders."""

from . import checkpoint, data, densities, evaluate, nets, plots, protocol, runtime
from .autoencoder import Autoencoder
from .checkpoint import load_checkpoint, load_or_train, save_checkpoint
from .data import load_binarized_mnist, load_mnist
from .evaluate import elbo, iw_log_likelihood
from .gaussian_vae import GaussianVAE
from .ppca import ProbabilisticPCA
from .runtime import QUICK, default_device, is_quick, pick, seed_everything
from .train import History, train

__version__ = "0.1.0"

__all__ = [
    "Autoencoder",
    "GaussianVAE",
    "History",
    "ProbabilisticPCA",
    "QUICK",
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

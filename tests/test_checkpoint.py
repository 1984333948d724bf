"""Checkpoints: a round trip rebuilds the same model; broken files are explained."""

import pytest
import torch

from vaecourse import Autoencoder, GaussianVAE
from vaecourse.checkpoint import load_checkpoint, load_or_train, save_checkpoint


def test_round_trip_rebuilds_an_identical_model(tmp_path):
    vae = GaussianVAE(x_dim=12, z_dim=3, hidden=(8, 5), beta=2.0)
    path = save_checkpoint(vae, tmp_path / "vae.pt", extra={"seconds": 1.5})
    loaded, extra = load_checkpoint(path, with_extra=True)
    assert type(loaded) is GaussianVAE and loaded.config == vae.config
    assert extra == {"seconds": 1.5}
    z = torch.randn(4, 3)
    torch.testing.assert_close(loaded.decode(z), vae.decode(z))
    assert not (tmp_path / "vae.pt.part").exists()


def test_broken_checkpoints_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable vaecourse checkpoint"):
        load_checkpoint(bad)
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(2)}, foreign)
    with pytest.raises(ValueError, match="not a vaecourse checkpoint"):
        load_checkpoint(foreign)


def test_load_or_train_trains_once_then_loads(tmp_path):
    calls = []

    def fit(model):
        calls.append(1)
        with torch.no_grad():
            model.decoder[0].bias.fill_(0.25)
        return {"seconds": 2.0}

    make = lambda: Autoencoder(x_dim=6, z_dim=2, hidden=(4,))  # noqa: E731
    first, info1 = load_or_train("ae", make, fit, directory=tmp_path)
    second, info2 = load_or_train("ae", make, fit, directory=tmp_path)
    assert len(calls) == 1 and not info1["loaded"] and info2["loaded"] and info2["seconds"] == 2.0
    torch.testing.assert_close(second.decoder[0].bias, torch.full((4,), 0.25))
    # a different configuration is not mistaken for the saved one
    _, info3 = load_or_train("ae", lambda: Autoencoder(x_dim=6, z_dim=3, hidden=(4,)), fit, directory=tmp_path)
    assert not info3["loaded"] and len(calls) == 2

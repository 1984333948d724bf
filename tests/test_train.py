"""The training loop: it lowers the loss, records history, and stops on NaN with a clear message."""

import pytest
import torch

from vaecourse import Autoencoder, GaussianVAE, train
from vaecourse.evaluate import elbo
from vaecourse.train import NonFiniteLossError


def _toy_data(n=600, d=20):
    # two prototypes with pixel noise: a structure a tiny VAE can learn
    protos = (torch.rand(2, d) < 0.5).float()
    x = protos[torch.randint(0, 2, (n,))]
    flip = torch.rand(n, d) < 0.05
    return torch.where(flip, 1 - x, x)


def test_training_raises_the_elbo_on_a_small_subset(device, dtype):
    x = _toy_data().to(dtype)
    vae = GaussianVAE(x_dim=20, z_dim=2, hidden=(16,)).to(dtype)
    before = elbo(vae, x, num_samples=10).mean()
    history = train(
        vae,
        x,
        epochs=15,
        batch_size=50,
        lr=3e-3,
        x_valid=x[:100],
        progress=False,
        device=device,
    )
    after = elbo(vae, x, num_samples=10).mean()
    assert after > before + 3.0, (before, after)
    assert history.epoch == list(range(1, 16))
    assert history.train["elbo"][-1] > history.train["elbo"][0]
    assert len(history.valid["elbo"]) == 15 and history.seconds > 0
    assert history.images == 15 * 600


def test_autoencoder_loss_falls_and_is_validated_by_loss(device, dtype):
    x = _toy_data()
    ae = Autoencoder(x_dim=20, z_dim=2, hidden=(16,)).to(dtype)
    history = train(
        ae,
        x,
        epochs=10,
        batch_size=50,
        lr=3e-3,
        x_valid=x[:50],
        progress=False,
        device=device,
    )
    assert history.train["loss"][-1] < 0.7 * history.train["loss"][0]
    assert "loss" in history.valid


def test_same_seed_gives_the_same_model(device, dtype):
    x = _toy_data(200)
    states = []
    for _ in range(2):
        torch.manual_seed(0)
        vae = GaussianVAE(x_dim=20, z_dim=2, hidden=(8,)).to(dtype)
        train(vae, x, epochs=2, batch_size=32, seed=5, progress=False, device=device)
        states.append(vae.state_dict())
    for k in states[0]:
        torch.testing.assert_close(states[0][k], states[1][k])


def test_nan_loss_names_epoch_and_step(device, dtype):
    x = _toy_data(200)
    vae = GaussianVAE(x_dim=20, z_dim=2, hidden=(8,))
    calls = {"n": 0}
    original = vae.training_loss

    def poisoned(xb, index=None):
        calls["n"] += 1
        loss, stats = original(xb, index)
        if calls["n"] == 9:  # epoch 2, step 2 with 7 steps per epoch
            loss = loss * float("nan")
        return loss, stats

    vae.training_loss = poisoned
    with pytest.raises(NonFiniteLossError, match="epoch 2, step 2 of 7"):
        train(vae, x, epochs=3, batch_size=32, progress=False, device=device)


def test_bad_training_data_is_explained():
    vae = GaussianVAE(x_dim=20, z_dim=2, hidden=(8,))
    with pytest.raises(ValueError, match=r"x_train must have shape \(batch, 20\)"):
        train(vae, torch.zeros(10, 21), progress=False)
    with pytest.raises(ValueError, match="binary values"):
        train(vae, torch.full((10, 20), 0.3), progress=False)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        train(vae, torch.zeros(10, 20), epochs=0, progress=False)

"""Plots draw what they are given: the grid holds the images, the scatter one colour per digit."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from vaecourse import plots  # noqa: E402
from vaecourse.train import History  # noqa: E402


def teardown_function():
    plt.close("all")


def test_image_grid_places_each_image_in_its_cell():
    images = torch.zeros(6, 16)
    images[4] = 1.0  # the fifth image is all ink
    ax = plots.image_grid(images, nrow=3, image_shape=(4, 4), pad=1)
    canvas = ax.get_images()[0].get_array()
    assert canvas.shape == (2 * 5 + 1, 3 * 5 + 1)
    # row 1, column 1 (0-based) holds image 4
    assert np.all(canvas[6:10, 6:10] == 1.0) and canvas.sum() == 16


def test_image_grid_rejects_wrong_sizes():
    with pytest.raises(ValueError, match="must have 784 pixels"):
        plots.image_grid(torch.zeros(2, 100))


def test_latent_scatter_uses_one_colour_per_digit():
    z = torch.randn(50, 2)
    labels = torch.arange(50) % 5
    ax = plots.latent_scatter(z, labels)
    assert len(ax.collections) == 5
    assert sum(len(c.get_offsets()) for c in ax.collections) == 50
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        plots.latent_scatter(torch.randn(5, 3), torch.zeros(5))


def test_latent_histogram_counts_every_value():
    values = torch.rand(30, 4)
    labels = torch.arange(30) % 3
    ax = plots.latent_histogram(values, labels, bins=10)
    heights = [p.get_height() for p in ax.patches]
    assert sum(heights) == 120  # 30 rows of 4 values, stacked over 3 digits


def test_training_curves_draw_train_and_valid():
    h = History(
        epoch=[1, 2, 3],
        train={"elbo": [-200.0, -150.0, -120.0]},
        valid={"elbo": [-210.0, -160.0, -130.0]},
    )
    ax = plots.training_curves({"a": h})
    assert [list(line.get_ydata()) for line in ax.lines] == [
        h.train["elbo"],
        h.valid["elbo"],
    ]
    with pytest.raises(KeyError, match="no training statistic 'kl'"):
        plots.training_curves(h, key="kl")

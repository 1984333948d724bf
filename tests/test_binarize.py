"""Binarising labelled images: a Bernoulli draw per pixel, reproducible, and checked."""

import math

import pytest
import torch

from vaecourse.binarize import binarize


def test_each_pixel_is_on_with_probability_equal_to_its_intensity():
    intensities = torch.linspace(0, 1, 11)  # (11,)
    images = intensities.expand(20_000, 11)
    on = binarize(images).mean(0)  # (11,)
    se = (intensities * (1 - intensities) / 20_000).sqrt()
    assert bool(((on - intensities).abs() <= 4 * se + 1e-12).all())
    assert on[0] == 0 and on[-1] == 1  # black stays off, white stays on


def test_the_draw_is_reproducible():
    images = torch.rand(
        50, 784, generator=torch.Generator().manual_seed(5)
    )  # not the binarising draws
    assert torch.equal(binarize(images), binarize(images))
    assert not torch.equal(binarize(images, seed=1), binarize(images))
    assert set(binarize(images).unique().tolist()) == {0.0, 1.0}


@pytest.mark.parametrize(
    ("images", "error", "message"),
    [
        (
            torch.full((2, 3), 255.0),
            ValueError,
            r"intensities in \[0, 1\], found 6 value\(s\) outside \(e.g. 255\)",
        ),
        (torch.tensor([[0.5, math.nan]]), ValueError, "e.g. nan"),
        (torch.zeros(2, 3, dtype=torch.uint8), TypeError, "floating-point tensor"),
    ],
)
def test_bad_images_are_explained(images, error, message):
    with pytest.raises(error, match=message):
        binarize(images)

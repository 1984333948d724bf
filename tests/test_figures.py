"""The page helpers of chapters 0-4: tables, code without docstrings, and figures that show their point."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
import torch

from vaecourse import figures
from vaecourse.estimators import GradientStats

matplotlib.use("Agg")


def test_show_source_drops_a_multi_line_docstring_and_keeps_the_code():
    from vaecourse.gaussian_vae import GaussianVAE

    shown = figures.show_source(GaussianVAE.elbo_terms).data
    assert shown.startswith("```python\ndef elbo_terms(")
    assert '"""' not in shown and ":math:" not in shown
    assert "kl_normal_standard(mu, log_sigma)" in shown  # the body is all there


def test_markdown_table_refuses_a_ragged_row():
    with pytest.raises(ValueError, match="every row needs 2 cells"):
        figures.markdown_table(["a", "b"], [[1]])


def test_variance_against_k_draws_a_guide_of_slope_minus_one():
    ks = (2, 4, 8, 16)
    fig = figures.variance_against_k(
        ks, {"none": [8.0, 4.0, 2.0, 1.0]}, {"none": "no baseline"}
    )
    guide = next(
        line for line in fig.axes[0].lines if line.get_label() == "slope of $1/K$"
    )
    x, y = map(np.asarray, guide.get_data())
    slopes = np.diff(np.log(y)) / np.diff(np.log(x))
    assert np.allclose(slopes, -1.0)
    assert fig.axes[0].get_xscale() == "log" and fig.axes[0].get_yscale() == "log"


def test_the_legend_of_the_training_curves_sits_off_the_axes():
    stats = GradientStats(mean=torch.ones(3), variance=torch.ones(3), num_draws=10)
    fig = figures.variance_along_training(
        [0, 25], {"none": [stats, stats]}, {"none": "no baseline"}
    )
    assert fig.legends and not any(ax.get_legend() for ax in fig.axes)
    box = fig.legends[0].get_window_extent(fig.canvas.get_renderer())
    for ax in fig.axes:
        assert (
            box.y1 <= ax.get_window_extent().y0 + 1e-6
        )  # below every axes, not on a curve
    assert math.isclose(fig.axes[1].lines[0].get_ydata()[0], stats.snr)

"""Figures and small tables of chapters 0-3 and 6: the drawing that the pages show but do not teach."""

from __future__ import annotations

import ast
import inspect
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import torch

from .plots import image_grid, latent_scatter

__all__ = [
    "markdown_table",
    "show_source",
    "history_of",
    "kl_estimates_figure",
    "rate_distortion_figure",
    "variance_bars",
    "variance_along_training",
    "variance_against_k",
    "samples_per_beta",
    "decoding_strip",
    "codes_against_prior",
    "naive_estimates_figure",
    "gap_figure",
]


def markdown_table(header, rows):
    """A Markdown table for the page: ``header`` a sequence of column titles, ``rows`` of cells.

    >>> print(markdown_table(["a", "b"], [[1, 2]]).data)
    | a | b |
    |---|---|
    | 1 | 2 |
    """
    from IPython.display import Markdown

    header = [str(cell) for cell in header]
    if any(len(row) != len(header) for row in rows):
        raise ValueError(
            f"every row needs {len(header)} cells, one per column of {header}"
        )
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return Markdown("\n".join(lines))


def show_source(obj):
    """The source of a package function or method as a Markdown code block, without its docstring.

    The code comes from the installed package when the page is built, so page and package cannot
    drift apart; the docstring is left out because the prose around it explains the code.

    >>> shown = show_source(show_source).data
    >>> "def show_source" in shown, "drift apart" in shown
    (True, False)
    """
    from IPython.display import Markdown

    source = textwrap.dedent(inspect.getsource(obj))
    node = ast.parse(source).body[0]
    lines = source.splitlines()
    body = node.body
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(getattr(body[0], "value", None), ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        doc = body[0]
        lines = lines[: doc.lineno - 1] + lines[doc.end_lineno :]
    return Markdown("```python\n" + "\n".join(lines) + "\n```")


def history_of(info):
    """A :class:`~vaecourse.train.History` from the ``info`` dict that the chapter zoos return."""
    from .train import History

    return History(
        epoch=list(info["epochs"]),
        train={"elbo": list(info["train_elbo"])},
        valid={"elbo": list(info["valid_elbo"])},
        seconds=info["seconds"],
    )


def kl_estimates_figure(monte_carlo, analytic, elbo_analytic, elbo_mc):
    """Chapter 3: Monte Carlo KL draws for one image, and the spread of the single-sample ELBO per image."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10.5, 3.6))
    ax.hist(
        monte_carlo[:, 0],
        bins=30,
        color="C1",
        alpha=0.7,
        label="single-sample Monte Carlo",
    )
    ax.axvline(float(analytic[0]), color="black", lw=2, label="closed form")
    ax.set(xlabel="KL term for one test image (nats)", ylabel="count")
    ax.legend(frameon=False, fontsize="small")
    std_a, std_mc = elbo_analytic.std(0), elbo_mc.std(0)
    ax2.scatter(std_a, std_mc, s=6, color="C0")
    top = float(max(std_a.max(), std_mc.max()))
    ax2.plot([0, top], [0, top], color="black", lw=0.8, ls="--")
    ax2.set(
        xlabel="std of the single-sample ELBO, closed-form KL",
        ylabel="... Monte Carlo KL",
    )
    fig.tight_layout()
    return fig


def rate_distortion_figure(sweep, betas):
    """Chapter 3: rate against distortion for the beta sweep, with the line of equal ELBO."""
    fig, ax = plt.subplots(figsize=(5.8, 4.2))
    rates = [sweep[b]["rate"] for b in betas]
    distortions = [sweep[b]["distortion"] for b in betas]
    ax.plot(rates, distortions, marker="o", color="C0")
    for b, r, d in zip(betas, rates, distortions):
        ax.annotate(
            f"$\\beta$ = {b:g}",
            (r, d),
            textcoords="offset points",
            xytext=(6, 4),
            fontsize="small",
        )
    line = np.linspace(0, max(rates), 50)
    elbo_1 = sweep[1.0]["rate"] + sweep[1.0]["distortion"]
    ax.plot(
        line,
        elbo_1 - line,
        color="gray",
        ls=":",
        label=r"rate + distortion = $-$ELBO of $\beta = 1$",
    )
    ax.set(
        xlabel="rate: KL(q || p(z)) (nats)",
        ylabel=r"distortion: $-\mathbb{E}_q \log p(x \mid z)$ (nats)",
    )
    ax.legend(frameon=False, fontsize="small")
    fig.tight_layout()
    return fig


def samples_per_beta(models, betas, num=16):
    """Chapter 3: Bernoulli means decoded from the same prior samples by each model of the sweep."""
    fig, axes = plt.subplots(1, len(betas), figsize=(2.1 * len(betas), 2.5))
    for ax, beta in zip(axes, betas):
        g = torch.Generator().manual_seed(0)  # the same prior samples for every beta
        images = models[beta].generate(num, kind="mean", generator=g)
        image_grid(images, nrow=4, ax=ax, title=f"$\\beta$ = {beta:g}")
    fig.tight_layout()
    return fig


def variance_bars(ratios, labels):
    """Chapter 6: the variance of each estimator relative to no baseline, as bars on a log scale."""
    fig, ax = plt.subplots(figsize=(6, 3.2))
    bars = ax.bar(labels, ratios, color=[f"C{i}" for i in range(len(ratios))])
    ax.set_yscale("log")
    ax.set_ylabel("variance / variance without baseline")
    ax.bar_label(bars, labels=[f"{r:.2g}" for r in ratios], padding=2)
    ax.set_ylim(min(ratios) / 5, 5)
    ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    return fig


def variance_along_training(steps, curves, labels):
    """Chapter 6: total variance and SNR of each estimator against the training step.

    ``curves[name]`` is a list of :class:`~vaecourse.estimators.GradientStats`, one per step;
    the legend sits below the axes, off the curves.
    """
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.9))
    for i, name in enumerate(curves):
        style = dict(color=f"C{i}", marker="o", ms=3, label=labels[name])
        axes[0].plot(steps, [s.total_variance for s in curves[name]], **style)
        axes[1].plot(steps, [s.snr for s in curves[name]], **style)
    axes[0].set(
        yscale="log", xlabel="training step", ylabel="total variance of the gradient"
    )
    axes[1].set(yscale="log", xlabel="training step", ylabel="signal-to-noise ratio")
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(
        handles,
        names,
        loc="lower center",
        ncol=len(names),
        frameon=False,
        fontsize="small",
    )
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def variance_against_k(ks, variances, labels):
    """Chapter 6: total variance against the number of samples K, log-log, with a 1/K guide.

    ``variances[name]`` holds one total variance per entry of ``ks``; the guide starts at the
    first point of the first estimator.
    """
    fig, ax = plt.subplots(figsize=(5.8, 3.8))
    ks = np.asarray(ks, dtype=float)
    for i, (name, values) in enumerate(variances.items()):
        ax.plot(ks, values, marker="o", color=f"C{i}", label=labels[name])
    first = next(iter(variances.values()))[0]
    ax.plot(ks, first * ks[0] / ks, color="gray", ls=":", label="slope of $1/K$")
    ax.set(
        xscale="log",
        yscale="log",
        xlabel="samples per image $K$",
        ylabel="total variance of the gradient",
    )
    ax.set_xticks(ks, [f"{k:g}" for k in ks])
    ax.legend(frameon=False, fontsize="small")
    fig.tight_layout()
    return fig


def decoding_strip(model, limit=2.5, steps=9):
    """Chapter 3: decodings of a 2-D model along each latent axis, the other coordinate at 0."""
    values = torch.linspace(-limit, limit, steps)
    zeros = torch.zeros(steps)
    fig, axes = plt.subplots(2, 1, figsize=(8, 2.4))
    for ax, name, points in zip(
        axes,
        ("$z_1$", "$z_2$"),
        (torch.stack([values, zeros], 1), torch.stack([zeros, values], 1)),
    ):
        with torch.no_grad():
            images = model.decode_mean(points)
        image_grid(
            images,
            nrow=steps,
            ax=ax,
            title=f"{name} from {-limit:g} to {limit:g}, the other at 0",
        )
    fig.tight_layout()
    return fig


def codes_against_prior(codes, labels, z_prior, from_prior, real):
    """Chapter 1: codes with the prior's 1-, 2-, 3-sigma circles and samples; decodings; real digits."""
    fig = plt.figure(figsize=(11, 4.2))
    ax = fig.add_subplot(1, 3, 1)
    latent_scatter(codes, labels, ax=ax, s=2, legend=False, title="codes and N(0, I)")
    for r in (1, 2, 3):
        ax.add_patch(plt.Circle((0, 0), r, fill=False, color="black", lw=1.2, ls="--"))
    ax.scatter(
        z_prior[:, 0],
        z_prior[:, 1],
        marker="x",
        color="black",
        s=25,
        label="prior samples",
    )
    ax.set_aspect("equal", adjustable="datalim")
    nrow = len(z_prior) // 4
    image_grid(
        from_prior,
        nrow=nrow,
        ax=fig.add_subplot(1, 3, 2),
        title="decoded prior samples",
    )
    image_grid(real, nrow=nrow, ax=fig.add_subplot(1, 3, 3), title="real digits")
    fig.tight_layout()
    return fig


def naive_estimates_figure(naive, iw_curve, reference, sizes):
    """Chapter 2: naive estimates of log p(x) against m (mean and spread), the IW curve, the reference.

    ``naive[z_dim][m]`` and ``iw_curve[z_dim][m]`` are ``(repeats, N)`` estimates for ``N`` images;
    ``reference[z_dim]`` is ``(N,)``.
    """
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, (z_dim, estimates) in zip(axes, naive.items()):
        for n in range(len(reference[z_dim])):
            colour = f"C{n}"
            mean = np.array([float(e[:, n].mean()) for e in estimates.values()])
            spread = np.array(
                [
                    float(e[:, n].std()) if len(e) > 1 else 0.0
                    for e in estimates.values()
                ]
            )
            ax.plot(
                sizes,
                mean,
                marker="o",
                color=colour,
                label=f"image {n + 1}, prior samples",
            )
            ax.fill_between(
                sizes, mean - spread, mean + spread, color=colour, alpha=0.2
            )
            iw = iw_curve[z_dim]
            iw_mean = [float(e[:, n].mean()) for e in iw.values()]
            ax.plot(
                list(iw),
                iw_mean,
                marker="s",
                ls=":",
                color=colour,
                label=f"image {n + 1}, samples of q",
            )
            ax.axhline(float(reference[z_dim][n]), color=colour, lw=0.8, ls="--")
        ax.set_xscale("log")
        ax.set(
            xlabel="number of samples $m$ (or $K$)",
            ylabel=r"estimate of $\log p_\theta(x)$ (nats)",
            title=f"Gaussian VAE, $D_z$ = {z_dim}",
        )
    axes[0].legend(fontsize="small", frameon=False)
    fig.tight_layout()
    return fig


def gap_figure(blends, curves):
    """Chapter 2: log p(x) and the ELBO (left) and their gap (right) as q moves from the prior to the posterior."""
    fig, (ax, ax_gap) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax.plot(blends, curves["log p(x)"], color="black", label=r"$\log p(x)$")
    ax.plot(blends, curves["ELBO"], color="C0", marker="o", ms=3, label="ELBO")
    ax.set(
        xlabel="blend: 0 = prior, 1 = best diagonal Gaussian",
        ylabel="nats (mean over the images)",
    )
    ax.legend(frameon=False)
    ax_gap.plot(blends, curves["KL(q || posterior)"], color="C3", marker="o", ms=3)
    ax_gap.set(
        xlabel="blend",
        ylabel=r"$\mathrm{KL}(q \,\|\, p(z \mid x))$ (nats)",
        yscale="log",
    )
    fig.tight_layout()
    return fig

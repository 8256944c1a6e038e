"""Figures of the report that no analysis package draws itself: estimates vs truth, PIT."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from galinfo.atomic import save_figure  # noqa: E402
from galinfo.metrics import pit, pit_histogram, pit_wasserstein  # noqa: E402


def _save(fig, stem: Path) -> Path:
    try:
        return save_figure(fig, stem, dpi=130, bbox_inches="tight")[0]
    finally:
        plt.close(fig)


def plot_estimates(models: dict[str, tuple[np.ndarray, np.ndarray]], stem: str | os.PathLike,
                   label: str = "log M*") -> Path:
    """One panel per model: estimate (pdf mean) against truth, as a 2-D histogram."""
    n = len(models)
    cols = min(n, 4)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.1 * rows), squeeze=False)
    for ax, (name, (truth, estimate)) in zip(axes.ravel(), models.items(), strict=False):
        lo, hi = np.percentile(np.concatenate([truth, estimate]), [0.5, 99.5])
        ax.hist2d(truth, estimate, bins=40, range=[[lo, hi], [lo, hi]], cmap="Blues", cmin=1)
        ax.plot([lo, hi], [lo, hi], color="0.3", lw=0.8, ls="--")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel(f"true {label}")
        ax.set_ylabel(f"estimated {label}")
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.tight_layout()
    return _save(fig, Path(stem))


def plot_pit(models: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]], stem: str | os.PathLike) -> Path:
    """PIT histograms (pdf, edges, truth per model); flat means calibrated."""
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for name, (pdf, edges, truth) in models.items():
        values = pit(pdf, edges, truth)
        density, e = pit_histogram(values, n_bins=20)
        ax.step(e[:-1], density, where="post", label=f"{name} (W1={pit_wasserstein(values):.3f})")
    ax.axhline(1.0, color="0.3", lw=0.8, ls="--")
    ax.set_xlabel("PIT")
    ax.set_ylabel("density")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, Path(stem))

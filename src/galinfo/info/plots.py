"""Figures of the decomposition: stack plots (paper Fig. 6 style) and bar charts of the atoms.

Matplotlib through its object API with the Agg canvas (no pyplot state, no display needed).
Every figure is written as PNG and PDF next to each other.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from astropy.table import Table

from galinfo.atomic import save_figure
from galinfo.info.pid import ATOMS

ATOM_COLORS = {"red": "#4C72B0", "unq1": "#DD8452", "unq2": "#55A868", "syn": "#8172B3"}
AXIS_LABELS = {"logmstar": r"$\log_{10} M_*/M_\odot$", "mag_r": r"$r$ (Petrosian, AB mag)"}


def atom_labels(source1: str = "X1", source2: str = "X2") -> dict[str, str]:
    return {"red": "redundant", "unq1": f"unique {source1}", "unq2": f"unique {source2}",
            "syn": "synergistic"}


def _save(fig, stem: str | os.PathLike, dpi: int = 200) -> list[Path]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    return save_figure(fig, stem, dpi=dpi, bbox_inches="tight")


def plot_stack(
    binned_table: Table,
    stem: str | os.PathLike,
    *,
    source1: str = "X1",
    source2: str = "X2",
    xlabel: str | None = None,
    title: str | None = None,
) -> list[Path]:
    """Stack plot of the binned atoms, one panel per group (class): positive atoms stacked above
    zero, negative ones below, and the total ``i12`` with its interval. Returns the files written.
    """
    from matplotlib.figure import Figure

    groups = list(dict.fromkeys(np.asarray(binned_table["group"]).astype(str))) or ["all"]
    column = binned_table.meta.get("column", "")
    labels = atom_labels(source1, source2)
    fig = Figure(figsize=(3.2 * len(groups) + 0.6, 3.4), layout="constrained")
    axes = fig.subplots(1, len(groups), sharey=True, squeeze=False)[0]
    labelled = False  # the legend takes its labels from the first panel with data
    for ax, g in zip(axes, groups, strict=True):
        t = binned_table[np.asarray(binned_table["group"]).astype(str) == g]
        ax.axhline(0, color="0.3", lw=0.6)
        if len(t):
            first = not labelled
            labelled = True
            x = np.asarray(t["center"], dtype=float)
            pos = np.zeros(len(t))
            neg = np.zeros(len(t))
            for a in ATOMS:
                v = np.asarray(t[a], dtype=float)
                vp, vn = np.clip(v, 0, None), np.clip(v, None, 0)
                ax.fill_between(x, pos, pos + vp, color=ATOM_COLORS[a], alpha=0.85, lw=0,
                                label=labels[a] if first else None)
                ax.fill_between(x, neg, neg + vn, color=ATOM_COLORS[a], alpha=0.85, lw=0)
                pos, neg = pos + vp, neg + vn
            if "i12" in t.colnames:
                ax.plot(x, t["i12"], color="k", lw=1.2, label="total $i_{12}$" if first else None)
                if "i12_lo" in t.colnames:
                    ax.fill_between(x, t["i12_lo"], t["i12_hi"], color="k", alpha=0.15, lw=0)
        else:
            ax.text(0.5, 0.5, "no bin above the minimum count", ha="center", va="center",
                    transform=ax.transAxes, fontsize=8)
        ax.set_title(g)
        ax.set_xlabel(xlabel or AXIS_LABELS.get(column, column))
    axes[0].set_ylabel("pointwise information (nats)")
    if labelled:
        fig.legend(loc="outside lower center", ncol=5, fontsize=8, frameon=False)
    if title:
        fig.suptitle(title)
    return _save(fig, stem)


def plot_atom_bars(
    summaries: Mapping[str, Table],
    stem: str | os.PathLike,
    *,
    groups: Sequence[str] | None = None,
    title: str | None = None,
) -> list[Path]:
    """Bar chart of the averaged atoms with their intervals for every tuple, one panel per group.

    ``summaries``: tuple label -> table from :func:`galinfo.info.aggregate.summarize`.
    """
    from matplotlib.figure import Figure

    labels = list(summaries)
    if groups is None:
        groups = list(dict.fromkeys(g for s in summaries.values() for g in np.asarray(s["group"]).astype(str)))
    fig = Figure(figsize=(max(4.0, 1.1 * len(labels) + 1.5), 2.6 * len(groups) + 0.6), layout="constrained")
    axes = fig.subplots(len(groups), 1, sharex=True, squeeze=False)[:, 0]
    width = 0.8 / len(ATOMS)
    xs = np.arange(len(labels))
    names = atom_labels("1", "2")
    for ax, g in zip(axes, groups, strict=True):
        ax.axhline(0, color="0.3", lw=0.6)
        for k, a in enumerate(ATOMS):
            val, lo, hi = (np.full(len(labels), np.nan) for _ in range(3))
            for j, lab in enumerate(labels):
                s = summaries[lab]
                row = np.flatnonzero(np.asarray(s["group"]).astype(str) == g)
                if row.size:
                    r = s[int(row[0])]
                    val[j], lo[j], hi[j] = r[a], r[f"{a}_lo"], r[f"{a}_hi"]
            err = np.vstack([val - lo, hi - val])
            ax.bar(xs + (k - 1.5) * width, val, width, yerr=err, color=ATOM_COLORS[a],
                   label=names[a] if g == groups[0] else None, capsize=2, error_kw={"lw": 0.8})
        ax.set_ylabel("nats")
        ax.set_title(g, fontsize=9, loc="left")
    axes[-1].set_xticks(xs, labels, rotation=30, ha="right", fontsize=8)
    if title:
        fig.suptitle(title)
    # below the panels: at the top, constrained layout puts the legend over the suptitle
    fig.legend(loc="outside lower center", ncol=4, fontsize=8, frameon=False)
    return _save(fig, stem)


def plot_band_study(
    summaries: Mapping[str, Table],
    stem: str | os.PathLike,
    *,
    names: Sequence[str] | None = None,
    title: str | None = None,
) -> list[Path]:
    """Stacked bars of the mean atoms of a band study, one panel per group (class): one bar per
    tuple (named by its first source), positive atoms stacked above zero, negative ones below, and
    the union's mean information ``i12`` as a black mark. ``summaries`` as for :func:`plot_atom_bars`.
    """
    from matplotlib.figure import Figure

    labels = list(summaries)
    names = list(names) if names is not None else labels
    groups = list(dict.fromkeys(g for s in summaries.values() for g in np.asarray(s["group"]).astype(str)))
    fig = Figure(figsize=(2.2 + (0.45 * len(labels) + 0.8) * len(groups), 3.4), layout="constrained")
    axes = fig.subplots(1, len(groups), sharey=True, squeeze=False)[0]
    xs = np.arange(len(labels))
    atom_names = atom_labels("band(s)", "the rest")
    for ax, g in zip(axes, groups, strict=True):
        ax.axhline(0, color="0.3", lw=0.6)
        pos, neg, total = np.zeros(len(labels)), np.zeros(len(labels)), np.full(len(labels), np.nan)
        for a in ATOMS:
            v = np.full(len(labels), np.nan)
            for j, lab in enumerate(labels):
                s = summaries[lab]
                row = np.flatnonzero(np.asarray(s["group"]).astype(str) == g)
                if row.size:
                    v[j] = s[int(row[0])][a]
                    total[j] = s[int(row[0])]["i12"]
            vp, vn = np.clip(np.nan_to_num(v), 0, None), np.clip(np.nan_to_num(v), None, 0)
            ax.bar(xs, vp, 0.7, bottom=pos, color=ATOM_COLORS[a], label=atom_names[a] if g == groups[0] else None)
            ax.bar(xs, vn, 0.7, bottom=neg, color=ATOM_COLORS[a])
            pos, neg = pos + vp, neg + vn
        ax.plot(xs, total, "k_", ms=14, mew=2, label="union $i_{12}$" if g == groups[0] else None)
        ax.set_xticks(xs, names, rotation=45, ha="right", fontsize=8)
        ax.set_title(g, fontsize=9)
    axes[0].set_ylabel("mean pointwise information (nats)")
    if title:
        fig.suptitle(title)
    fig.legend(loc="outside lower center", ncol=5, fontsize=8, frameon=False)
    return _save(fig, stem)

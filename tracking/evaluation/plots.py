"""Plots of track-finding performance: efficiency vs pT and vs eta, and an event display."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def _binned_efficiency(values: np.ndarray, matched: np.ndarray, edges: np.ndarray):
    index = np.digitize(values, edges) - 1
    inside = (index >= 0) & (index < len(edges) - 1)
    total = np.bincount(index[inside], minlength=len(edges) - 1)
    passed = np.bincount(index[inside], weights=matched[inside].astype(float), minlength=len(edges) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        eff = passed / total
        err = np.sqrt(eff * (1 - eff) / total)
    return eff, err, total


def _pt_eta_figure(largest_pt: float):
    """(figure, pT axis, eta axis, pT bin edges (GeV, 15 log bins from 0.1 to ``largest_pt``), eta bin edges)."""
    fig, (ax_pt, ax_eta) = plt.subplots(1, 2, figsize=(11, 4.2))
    return fig, ax_pt, ax_eta, np.logspace(np.log10(0.1), np.log10(largest_pt), 16), np.linspace(-4, 4, 17)


def _style_pt_eta_axes(ax_pt, ax_eta, ylabel: str, who: str, pt_min_eta: float) -> None:
    """Log pT axis, labels (``who``: whose pT and eta), rates from 0 to 1.05, grids."""
    ax_pt.set_xscale("log")
    ax_pt.set_xlabel(f"{who} pT [GeV]")
    ax_pt.set_ylabel(ylabel)
    ax_eta.set_xlabel(f"{who} eta (pT > {pt_min_eta:g} GeV)")
    for ax in (ax_pt, ax_eta):
        ax.set_ylim(0, 1.05)
        ax.grid(alpha=0.3)


def plot_efficiency(particles: pd.DataFrame | dict[str, pd.DataFrame], pt_min_eta: float = 1.0,
                    rates: dict[str, dict] | None = None):
    """Figure with efficiency vs pT (log bins) and vs eta (pT > ``pt_min_eta``), binomial errors.

    Args:
        particles: one table, or several by sample label (e.g. ``{"after refit": ..., "before refit":
            ...}``) drawn side by side with a legend; columns pt, eta, matched (e.g. from
            :func:`gnn4hep.tracking.evaluation.aggregate.particle_efficiency_table`).
        rates: by sample label, the sample's ``efficiency``, ``fake_rate`` and ``duplicate_rate`` (e.g.
            ``combine_track_summaries(...)["pt_high"]``); they go in the legend, so the plot carries the
            fake and duplicate rates next to the efficiency curves.
    """
    samples = particles if isinstance(particles, dict) else {"tracks": particles}
    rates = rates or {}
    fig, ax_pt, ax_eta, pt_edges, eta_edges = _pt_eta_figure(max([20.0] + [float(t["pt"].max()) for t in samples.values() if len(t)]))
    offsets = np.linspace(-0.15, 0.15, len(samples)) if len(samples) > 1 else [0.0]
    for (label, table), offset, marker in zip(samples.items(), offsets, "osD^v"):
        legend = label
        if label in rates:
            r = rates[label]
            legend += (f": eff {r.get('efficiency', float('nan')):.3f}, fake {r.get('fake_rate', float('nan')):.3f}, "
                       f"dup {r.get('duplicate_rate', float('nan')):.3f} (pT > {pt_min_eta:g} GeV)")
        eff, err, _ = _binned_efficiency(table["pt"].to_numpy(), table["matched"].to_numpy(), pt_edges)
        centres = np.sqrt(pt_edges[1:] * pt_edges[:-1]) * 10 ** (offset * np.log10(pt_edges[1] / pt_edges[0]))
        ax_pt.errorbar(centres, eff, yerr=err, fmt=marker, ms=4, label=legend)
        high = table[table["pt"] > pt_min_eta]
        eff, err, _ = _binned_efficiency(high["eta"].to_numpy(), high["matched"].to_numpy(), eta_edges)
        ax_eta.errorbar(0.5 * (eta_edges[1:] + eta_edges[:-1]) + offset * (eta_edges[1] - eta_edges[0]), eff, yerr=err,
                        fmt=marker, ms=4, label=label)
    _style_pt_eta_axes(ax_pt, ax_eta, "double-majority efficiency", "particle", pt_min_eta)
    ax_pt.legend(loc="lower right", fontsize=7)
    if len(samples) > 1:
        ax_eta.legend(loc="lower center", fontsize=7)
    return fig


def plot_event_display(hits: pd.DataFrame, truth: pd.DataFrame, submission: pd.DataFrame, particles: pd.DataFrame, pt_min: float = 1.0, max_tracks: int = 60):
    """x-y and r-z views: hits of true particles with pT > ``pt_min`` (lines, top row) and the
    reconstructed tracks holding them (lines, bottom row); other hits in light grey."""
    table = hits[["hit_id", "x", "y", "z"]].merge(truth[["hit_id", "particle_id", "tx", "ty", "tz"]], on="hit_id")
    table = table.merge(submission, on="hit_id", how="left")
    pt = pd.Series(np.hypot(particles["px"], particles["py"]).to_numpy(), index=particles["particle_id"].to_numpy())
    table["pt"] = pt.reindex(table["particle_id"].to_numpy()).fillna(0.0).to_numpy()
    table["r"] = np.hypot(table["x"], table["y"])
    table["d"] = np.sqrt(table["tx"] ** 2 + table["ty"] ** 2 + table["tz"] ** 2)
    # a seeded random choice: the first particles in hit order would all sit in one end-cap (hits are sorted by volume)
    candidates = table.loc[table["pt"] > pt_min, "particle_id"].drop_duplicates()
    chosen = candidates.sample(n=min(max_tracks, len(candidates)), random_state=0)
    fig, axes = plt.subplots(2, 2, figsize=(11, 10))
    for row, (key, ids, title) in enumerate([("particle_id", chosen, "true"), ("track_id", table.loc[table["particle_id"].isin(chosen), "track_id"].drop_duplicates(), "reconstructed")]):
        ax_xy, ax_rz = axes[row]
        for ax, (u, v) in ((ax_xy, ("x", "y")), (ax_rz, ("z", "r"))):
            ax.scatter(table[u], table[v], s=0.3, c="0.8")
        colors = plt.cm.tab20(np.linspace(0, 1, 20))
        for i, (_, group) in enumerate(table[table[key].isin(ids)].groupby(key)):
            group = group.sort_values("d")
            ax_xy.plot(group["x"], group["y"], "-o", ms=2, lw=0.8, color=colors[i % 20])
            ax_rz.plot(group["z"], group["r"], "-o", ms=2, lw=0.8, color=colors[i % 20])
        ax_xy.set_title(f"{title} tracks (x-y)")
        ax_rz.set_title(f"{title} tracks (r-z)")
        ax_xy.set_xlabel("x [mm]"); ax_xy.set_ylabel("y [mm]"); ax_xy.set_aspect("equal")  # fmt: skip
        ax_rz.set_xlabel("z [mm]"); ax_rz.set_ylabel("r [mm]")  # fmt: skip
    return fig


def plot_fake_rate(tracks: pd.DataFrame, pt_min_eta: float = 1.0, label: str = "tracks"):
    """Figure with the fake rate vs pT (log bins) and vs eta (pT > ``pt_min_eta``) of the tracks' majority
    particles, binomial errors; tracks whose majority is noise (always fake, no particle) are counted in
    the title.

    Args:
        tracks: columns pt, eta, fake (e.g. :func:`gnn4hep.tracking.evaluation.aggregate.track_fake_table`).
    """
    particle = tracks[tracks["pt"] > 0]
    fig, ax_pt, ax_eta, pt_edges, eta_edges = _pt_eta_figure(max(20.0, float(particle["pt"].max()) if len(particle) else 0.0))
    rate, err, _ = _binned_efficiency(particle["pt"].to_numpy(), particle["fake"].to_numpy(), pt_edges)
    ax_pt.errorbar(np.sqrt(pt_edges[1:] * pt_edges[:-1]), rate, yerr=err, fmt="o", ms=4, color="C3", label=label)
    high = particle[particle["pt"] > pt_min_eta]
    rate, err, _ = _binned_efficiency(high["eta"].to_numpy(), high["fake"].to_numpy(), eta_edges)
    ax_eta.errorbar(0.5 * (eta_edges[1:] + eta_edges[:-1]), rate, yerr=err, fmt="o", ms=4, color="C3", label=label)
    _style_pt_eta_axes(ax_pt, ax_eta, "fake rate", "majority-particle", pt_min_eta)
    ax_pt.legend(loc="upper right", fontsize=7)
    n_noise = int((tracks["pt"] <= 0).sum())
    fig.suptitle(f"{len(tracks)} tracks, {int(tracks['fake'].sum())} fake ({n_noise} with a noise or unknown majority)", fontsize=9)
    return fig

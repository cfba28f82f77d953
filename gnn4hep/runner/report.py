"""The headline of a finished run: the few figures a person reads first, in words.

:func:`headline_rows` picks them from ``metrics.json`` (whatever the experiment: tracking, QUBO,
edge classifier, jets) and :func:`headline_markdown` writes them, with the time per stage, at the
top of ``summary.md``; ``gnn4hep run`` prints the same rows as its final table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

#: Suffix of the metrics of the track builder's candidates when a Kalman refit ran after it.
BEFORE_REFIT = "_before_refit"

#: Prefix of the metrics sections of the extra evaluation events (``data.eval_events``):
#: ``eval_<event name>`` (e.g. ``eval_event000000001``), each scored on its own.
EVAL_PREFIX = "eval_"


@dataclass(frozen=True)
class HeadlineRow:
    """One line of the headline: a label in words, the value and, for tracking runs with a Kalman
    refit, the value before the refit (None otherwise)."""

    label: str
    value: Any
    before_refit: Any = None


def format_value(value: Any) -> str:
    """Numbers with 4 significant digits (integers in full), everything else as text."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _get(metrics: dict, *keys: str) -> Any:
    node: Any = metrics
    for key in keys:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def headline_rows(metrics: dict[str, Any], config: dict[str, Any] | None = None) -> list[HeadlineRow]:
    """The figures to show first, in order.

    Tracking runs: TrackML score, efficiency / fake / duplicate rates at the evaluation pT threshold
    (with their ``*_before_refit`` values beside them), the edge classifier's AUC, efficiency and
    purity, and the Kalman refit's figures; then the same track figures (and edge AUC) of each extra
    evaluation event (``data.eval_events``, sections ``eval_<event>``), labelled with the event's
    name. Every other top-level number of ``metrics.json`` follows under its own name; jet runs (one
    section per model) give each model's AUC and background rejection at 50% signal efficiency.
    """
    config = config or {}
    pt_min = _get(config, "evaluation", "pt_min")
    above = f" (pT > {pt_min:g} GeV)" if _number(pt_min) else ""
    refit_ran = f"trackml_score{BEFORE_REFIT}" in metrics
    rows: list[HeadlineRow] = []
    shown: set[str] = set()
    named = [
        ("trackml_score", "TrackML score" + (" (after Kalman refit)" if refit_ran else "")),
        ("track_efficiency", f"track efficiency{above}"),
        ("fake_rate", f"fake rate{above}"),
        ("duplicate_rate", f"duplicate rate{above}"),
    ]
    for key, label in named:
        if _number(metrics.get(key)):
            rows.append(HeadlineRow(label, metrics[key], metrics.get(f"{key}{BEFORE_REFIT}")))
            shown.update({key, f"{key}{BEFORE_REFIT}"})
    edges = _get(metrics, "test", "edges") or {}
    for key, label in (("edge_auc", "edge AUC"), ("edge_efficiency", "edge efficiency"), ("edge_purity", "edge purity")):
        value = metrics.get(key, edges.get(key))
        if _number(value):
            rows.append(HeadlineRow(f"{label} (test)", value))
            shown.add(key)
    refit = metrics.get("refit") if isinstance(metrics.get("refit"), dict) else {}
    for key, label in (
        ("fraction_fitted", "refit: fraction of candidates fitted"),
        ("median_chi2_ndf", "refit: median chi2/ndf"),
        ("n_outliers_removed", "refit: outlier hits removed"),
        ("pt_resolution", "refit: pT resolution (68%, relative)"),
    ):
        if _number(refit.get(key)):
            rows.append(HeadlineRow(label, refit[key]))
    rows += eval_event_rows(metrics, above)
    for key, value in metrics.items():
        if key not in shown and _number(value):
            rows.append(HeadlineRow(key, value))
    for section, values in metrics.items():
        if isinstance(values, dict) and _number(values.get("auc")):
            rejection = values.get("rej50")
            rows.append(HeadlineRow(f"{section}: AUC", values["auc"]))
            if _number(rejection):
                rows.append(HeadlineRow(f"{section}: background rejection at 50% signal efficiency", rejection))
    return rows


def eval_event_rows(metrics: dict[str, Any], above: str = "") -> list[HeadlineRow]:
    """Rows of each ``eval_<event>`` section holding a track summary (``trackml_score``, ``pt_high``):
    TrackML score, efficiency, fake and duplicate rates (before-refit values from
    ``eval_<event>_before_refit``) and, when present, the edge AUC. ``above``: the pT threshold text."""
    rows: list[HeadlineRow] = []
    for key, section in metrics.items():
        if not (key.startswith(EVAL_PREFIX) and not key.endswith(BEFORE_REFIT) and isinstance(section, dict)):
            continue
        if not _number(section.get("trackml_score")):
            continue
        name = key[len(EVAL_PREFIX):]
        before = metrics.get(f"{key}{BEFORE_REFIT}") if isinstance(metrics.get(f"{key}{BEFORE_REFIT}"), dict) else {}
        for path, label in (
            (("trackml_score",), "TrackML score"),
            (("pt_high", "efficiency"), f"track efficiency{above}"),
            (("pt_high", "fake_rate"), f"fake rate{above}"),
            (("pt_high", "duplicate_rate"), f"duplicate rate{above}"),
            (("edges", "edge_auc"), "edge AUC"),
        ):
            value = _get(section, *path)
            if _number(value):
                previous = _get(before, *path)
                rows.append(HeadlineRow(f"eval {name}: {label}", value, previous if _number(previous) else None))
    return rows


def headline_markdown(rows: list[HeadlineRow], stage_seconds: dict[str, float]) -> str:
    """The headline rows and the time per stage as markdown tables (the top of ``summary.md``)."""
    with_before = any(row.before_refit is not None for row in rows)
    lines = ["## Headline", ""]
    if with_before:
        lines += ["| metric | value | before refit |", "| --- | --- | --- |"]
        lines += [f"| {r.label} | {format_value(r.value)} | {format_value(r.before_refit)} |" for r in rows]
    else:
        lines += ["| metric | value |", "| --- | --- |"]
        lines += [f"| {r.label} | {format_value(r.value)} |" for r in rows]
    total = sum(stage_seconds.values())
    lines += ["", f"Total stage time: {total:.1f} s (" + ", ".join(f"{k} {v:.1f} s" for k, v in stage_seconds.items()) + ")"]
    return "\n".join(lines)

"""Demo stage: score perfect and degraded submissions of an event (toy, simulated or real)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from pydantic import Field

from gnn4hep.config.schema import Section
from gnn4hep.runner.context import RunContext
from gnn4hep.runner.registry import stage


class ScoreDemoConfig(Section):
    """Settings of the ``score_demo`` stage."""

    event: Optional[Path] = None
    """TrackML event prefix to score; None uses a built-in analytic toy event."""
    n_particles: int = Field(500, ge=1, le=1_000_000)
    """particles of the toy event."""
    reassign_fraction: float = Field(0.1, ge=0.0, le=1.0)
    """fraction of hits moved to random tracks in the 'reassigned' submission."""


@stage("score_demo", sections={"demo": ScoreDemoConfig})
def score_demo(ctx: RunContext) -> None:
    """Score the truth and three degraded submissions of one event."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gnn4hep.tracking import degrade
    from gnn4hep.tracking.io import read_event
    from gnn4hep.tracking.metrics import track_metrics
    from gnn4hep.tracking.scoring import score_event
    from gnn4hep.tracking.toy import make_toy_event

    cfg: ScoreDemoConfig = ctx.config.demo
    if cfg.event is not None:
        event = read_event(cfg.event, parts=("hits", "particles", "truth"))
    else:
        event = make_toy_event(n_particles=cfg.n_particles, seed=ctx.seed)
    truth, particles = event.truth, event.particles
    perfect = degrade.truth_submission(truth)
    submissions = {
        "truth": perfect,
        f"reassign_{cfg.reassign_fraction:g}": degrade.reassign_random(perfect, cfg.reassign_fraction, ctx.seed),
        "split_in_half": degrade.split_tracks(truth, perfect),
        "merged_pairwise": degrade.merge_tracks_pairwise(perfect),
    }
    scores = {}
    for name, submission in submissions.items():
        scores[name] = score_event(truth, submission)
        metrics = track_metrics(truth, particles, submission, pt_min=1.0)
        ctx.log_metrics({"trackml_score": scores[name], **metrics}, prefix=name)
        ctx.logger.info(f"  {name:20s} TrackML score {scores[name]:.4f}  efficiency {metrics['efficiency']:.3f}")
    ctx.log_metrics({"trackml_score": scores["truth"], "n_hits": len(truth)})

    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.barh(list(scores), list(scores.values()), color="tab:blue")
    for y, value in enumerate(scores.values()):
        ax.text(value + 0.01, y, f"{value:.3f}", va="center")
    ax.set_xlim(0, 1.15)
    ax.set_xlabel("TrackML score")
    ax.set_title(f"event {event.event_id}: {len(truth)} hits")
    ctx.save_figure(fig, "scores")

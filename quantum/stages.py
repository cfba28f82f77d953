"""Runner stages of QUBO track finding: ``qubo_build`` → ``qubo_solve`` → ``qubo_score``.

Files are the contract between stages (so a resumed run works): ``qubo/density_<d>.json`` (plus the
reduced event next to it), ``submissions/density_<d>_<sampler>.csv``, ``solve/…json`` timings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from pydantic import Field

from gnn4hep.config.schema import Section
from gnn4hep.quantum.doublets import DoubletConfig
from gnn4hep.quantum.model import QuboConfig
from gnn4hep.runner.context import RunContext
from gnn4hep.runner.registry import stage
from gnn4hep.utils.atomic import atomic_write_json


class QuboDataConfig(Section):
    """Which event the QUBOs are built from, and at which densities."""

    event: Optional[Path] = Field(None, description="TrackML event prefix; None: the analytic toy event")
    toy_particles: int = Field(300, ge=1, description="particles of the toy event (event: null)")
    densities: list[float] = Field([0.1], min_length=1, description="fractions of particles kept, each in (0, 1]")
    doublets: Optional[Path] = Field(None, description="doublets of a hit graph (CSV or graph .pt); None: geometric seeding")
    min_score: float = Field(0.0, ge=0, le=1, description="loose cut on the input doublet scores")
    doublet_cuts: DoubletConfig = Field(default_factory=DoubletConfig, description="geometric doublet maker cuts")


class QuboSolveConfig(Section):
    """Which samplers solve the QUBOs."""

    samplers: list[str] = Field(["sa"], min_length=1, description="names of gnn4hep.quantum.samplers.make_sampler")
    sampler_options: dict[str, dict] = Field(
        default_factory=dict, description="options of each sampler's constructor, e.g. {mock-qpu: {topology: zephyr}}"
    )
    num_reads: int = Field(10, ge=1, description="reads per solve")
    num_sweeps: Optional[int] = Field(None, ge=1, description="SA sweeps per read; None: the sampler's default")
    min_hits: int = Field(5, ge=2, description="shortest chain kept as a track (qallse: 3)")


def _tag(density: float) -> str:
    return f"density_{density:g}"


@stage("qubo_build", sections={"qubo_data": QuboDataConfig, "qubo": QuboConfig})
def qubo_build(ctx: RunContext) -> None:
    """Reduce the event at each density and build its QUBO (qallse model)."""
    from gnn4hep.quantum.pipeline import build_qubo
    from gnn4hep.tracking.io import read_event
    from gnn4hep.tracking.toy import make_toy_event

    data: QuboDataConfig = ctx.config.qubo_data
    if data.event is not None:
        event = read_event(data.event, parts=("hits", "particles", "truth"))
        volumes = (8, 13, 17)
    else:
        event, volumes = make_toy_event(n_particles=data.toy_particles, seed=ctx.seed), None
    for density in data.densities:
        out = ctx.path("qubo", f"{_tag(density)}.json")
        _, info = build_qubo(
            event, out, density=density, seed=ctx.seed, config=ctx.config.qubo, doublet_config=data.doublet_cuts,
            doublets=data.doublets, min_score=data.min_score, volumes=volumes,
        )  # fmt: skip
        ctx.logger.info(f"  density {density:g}: {info['n_variables']} variables, {info['n_couplings']} couplings, "
                        f"built in {info['build_seconds']:.2f} s")  # fmt: skip
        ctx.log_metrics({k: v for k, v in info.items() if k != "event"}, prefix=_tag(density))


@stage("qubo_solve", sections={"qubo_solve": QuboSolveConfig})
def qubo_solve(ctx: RunContext) -> None:
    """Solve every QUBO of the run with every configured sampler; write submissions."""
    from gnn4hep.quantum.pipeline import solve_qubo

    cfg: QuboSolveConfig = ctx.config.qubo_solve
    extra = {"num_sweeps": cfg.num_sweeps} if cfg.num_sweeps else {}
    for qubo in sorted(ctx.path("qubo").glob("density_*.json")):
        for sampler in cfg.samplers:
            out = ctx.path("submissions", f"{qubo.stem}_{sampler}.csv")
            result = solve_qubo(qubo, out, sampler=sampler, seed=ctx.seed, num_reads=cfg.num_reads, min_hits=cfg.min_hits,
                                sampler_options=cfg.sampler_options.get(sampler), **extra)  # fmt: skip
            atomic_write_json(ctx.path("solve", f"{qubo.stem}_{sampler}.json"), result)
            ctx.logger.info(f"  {qubo.stem} {sampler}: energy {result['energy']:.3f} in {result['solve_seconds']:.2f} s")
            if "qpu_access_time_ms" in result:
                ctx.logger.info(f"    {result['embedding_qubits']} qubits, longest chain {result['embedding_max_chain']}, chain strength "
                                f"{result['chain_strength']:.3f}, broken chains {result['chain_break_fraction']:.4f}, QPU access "
                                f"{result['qpu_access_time_ms']:.1f} ms ({result['qpu_timing'].split(':')[0]})")  # fmt: skip
            numbers = {k: v for k, v in result.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
            ctx.log_metrics(numbers, prefix=f"{qubo.stem}_{sampler}")  # energy, times and, on the QPU path, its figures


@stage("qubo_score", sections={})
def qubo_score(ctx: RunContext) -> None:
    """Score every submission: purity, efficiency (qallse), TrackML score, track metrics; plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gnn4hep.quantum.pipeline import score_submission

    rows = []
    for submission in sorted(ctx.path("submissions").glob("density_*.csv")):
        tag, sampler = submission.stem.rsplit("_", 1)
        result = score_submission(ctx.path("qubo", f"{tag}.json"), submission)
        solve_file = ctx.path("solve", f"{submission.stem}.json")
        timing = json.loads(solve_file.read_text()) if solve_file.is_file() else {}
        ctx.log_metrics(result, prefix=submission.stem)
        rows.append((float(tag.split("_")[1]), sampler, result, timing))
        ctx.logger.info(f"  {submission.stem}: purity {result['purity']:.4f} efficiency {result['efficiency']:.4f} "
                        f"TrackML {result['trackml_score']:.4f}")  # fmt: skip
    if not rows:
        return
    best = rows[0][2]
    ctx.log_metrics({k: best[k] for k in ("purity", "efficiency", "trackml_score")})
    table = ["| density | sampler | energy | solve s | purity | efficiency | TrackML |", "|---|---|---|---|---|---|---|"]
    for density, sampler, result, timing in rows:
        table.append(f"| {density:g} | {sampler} | {timing.get('energy', float('nan')):.3f} | "
                     f"{timing.get('solve_seconds', float('nan')):.2f} | {result['purity']:.4f} | "
                     f"{result['efficiency']:.4f} | {result['trackml_score']:.4f} |")  # fmt: skip
    ctx.add_summary_table("\n".join(table))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for sampler in sorted({r[1] for r in rows}):
        points = sorted((r[0], r[2]) for r in rows if r[1] == sampler)
        for key, marker in (("purity", "o"), ("efficiency", "s"), ("trackml_score", "^")):
            ax.plot([p[0] for p in points], [p[1][key] for p in points], marker=marker, label=f"{key} ({sampler})")
    ax.set_xlabel("density (fraction of particles)")
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7)
    ctx.save_figure(fig, "qubo_metrics")

"""``RunContext``: what a stage gets — the validated config, the run folder, metrics and logging."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from gnn4hep.utils.atomic import atomic_savefig, atomic_write_json, to_builtin


@dataclass
class RunContext:
    """State shared by the stages of one run.

    Attributes:
        run_dir: folder of the run (a staging folder until the run completes; write only here).
        config: the validated experiment config (``ctx.config.<section>``).
        seed: the run's seed.
        metrics: merged metrics; ``log_metrics`` writes them to ``metrics.json`` atomically.
        logger: writes to the console and to ``log.txt``.
        figures: plots saved so far (paths relative to the run folder), listed in summary.md.
        summary_tables: markdown blocks added to summary.md.

    Stages hand each other files in ``run_dir`` only, never objects in memory: a resumed run
    starts a fresh context after the completed stages (docs/architecture.md, "Stage contracts").
    """

    run_dir: Path
    config: BaseModel
    seed: int
    logger: logging.Logger
    metrics: dict[str, Any] = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)
    summary_tables: list[str] = field(default_factory=list)

    def path(self, *parts: str) -> Path:
        """A path inside the run folder; parent folders are created."""
        path = self.run_dir.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def log_metrics(self, values: dict[str, Any], prefix: str | None = None) -> None:
        """Merge ``values`` (optionally under ``prefix``) into metrics.json, written atomically."""
        values = to_builtin(values)
        if prefix:
            self.metrics.setdefault(prefix, {}).update(values)
        else:
            self.metrics.update(values)
        atomic_write_json(self.path("metrics.json"), self.metrics)

    def save_figure(self, fig, name: str, **kwargs) -> Path:
        """Save a matplotlib figure as ``plots/<name>.png`` atomically and close it."""
        import matplotlib.pyplot as plt

        path = self.path("plots", f"{name}.png")
        atomic_savefig(fig, path, dpi=kwargs.pop("dpi", 120), bbox_inches="tight", **kwargs)
        plt.close(fig)
        self.figures.append(str(path.relative_to(self.run_dir)))
        return path

    def add_summary_table(self, markdown: str) -> None:
        """Add a markdown block to ``summary.md``."""
        self.summary_tables.append(markdown)

"""The experiment runner: a config names stages; each stage is a function registered by name.

Writing a stage::

    from gnn4hep.runner import RunContext, stage
    from gnn4hep.config.schema import Section

    class ScoreDemoConfig(Section):
        n_particles: int = 200

    @stage("score_demo", sections={"demo": ScoreDemoConfig})
    def score_demo(ctx: RunContext) -> None:
        cfg = ctx.config.demo
        ...
        ctx.log_metrics({"trackml_score": score})

and add the module to ``gnn4hep.runner.registry.STAGE_MODULES`` so the runner imports it.
"""

from gnn4hep.runner.context import RunContext
from gnn4hep.runner.registry import STAGES, get_stage, stage

__all__ = ["RunContext", "STAGES", "get_stage", "stage"]

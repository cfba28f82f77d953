"""``gnn4hep jets ...``: generate jets with Pythia 8 + FastJet and inspect jet files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gnn4hep.cli import params
from gnn4hep.cli.common import report

PROCESSES = ("top", "w", "qg")


def _check_process(value: str) -> str:
    if value not in PROCESSES:
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(PROCESSES)}")
    return value


def _jet_path(text: str) -> Path:
    """An existing jet file or folder, or the prefix of ``<prefix>_pf_vectors.npy``."""
    path = Path(text)
    if not path.exists() and not path.parent.joinpath(f"{path.name}_pf_vectors.npy").is_file():
        raise typer.BadParameter(f"{path}: no such jet file or folder")
    return path


def register(app: typer.Typer) -> None:
    """Add the ``jets`` command group to the app."""
    jets_app = typer.Typer(help="Jet tagging data: generation and inspection.", no_args_is_help=True)
    app.add_typer(jets_app, name="jets")

    @jets_app.command()
    def generate(
        process: Annotated[str, typer.Option(parser=_check_process, help="top (ttbar vs QCD), w (W+jet vs QCD) or qg (Z+q vs Z+g)")] = "top",
        jets: Annotated[int, typer.Option("--jets", parser=params.integer(1, 10_000_000), help="jets per class")] = 1000,
        out: Annotated[Path, typer.Option("--out", parser=params.output_dir, help="output folder (jets.h5 and jets_*.npy)")] = Path("jets"),
        workers: Annotated[int, typer.Option(parser=params.workers, help="parallel Pythia processes")] = 1,
        seed: Annotated[int, typer.Option(parser=params.seed, help="random seed (same seed, same jets)")] = 0,
        smear: Annotated[bool, typer.Option("--smear/--no-smear", help="simple detector smearing")] = False,
        max_constituents: Annotated[int, typer.Option(parser=params.integer(1, 10_000), help="constituents kept per jet")] = 200,
        json_out: Annotated[bool, typer.Option("--json", help="print one JSON object on stdout")] = False,
    ) -> None:
        """Generate signal and background jets; writes OUT/jets.h5 plus Particle-Transformer arrays."""
        from gnn4hep.jets.generation import GenerationConfig, generate_jets

        if json_out:  # FastJet prints a banner on stdout at its first clustering; keep stdout pure JSON
            import os

            os.environ["GNN4HEP_FASTJET_QUIET"] = "1"
        config = GenerationConfig.for_process(process, smear=smear, max_constituents=max_constituents)
        summary = generate_jets(config, jets, out, workers=workers, seed=seed, progress=not json_out)
        report(f"{process} jets in {out}", summary, json_out, hide=("files",))

    @jets_app.command()
    def info(
        path: Annotated[Path, typer.Argument(parser=_jet_path, help="jets: folder of *_pf_vectors.npy, .h5, .npz or .root")],
        json_out: Annotated[bool, typer.Option("--json", help="print one JSON object on stdout")] = False,
    ) -> None:
        """Counts, classes, multiplicities and jet pT/mass of a jet file."""
        import numpy as np

        from gnn4hep.jets.constituents import invariant_mass, jet_p4
        from gnn4hep.jets.io import read_jets

        jets_set = read_jets(path)
        p4 = jet_p4(jets_set)
        pt, mass = np.hypot(p4[:, 0], p4[:, 1]), invariant_mass(p4)
        summary = {"n_jets": len(jets_set), "max_constituents": jets_set.max_constituents,
                   "has_pid": jets_set.pid is not None}
        for label in np.unique(jets_set.labels):
            sel = jets_set.labels == label
            summary[f"class{label}_n"] = int(sel.sum())
            summary[f"class{label}_mean_multiplicity"] = float(jets_set.multiplicity[sel].mean())
            summary[f"class{label}_median_pt"] = float(np.median(pt[sel]))
            summary[f"class{label}_median_mass"] = float(np.median(mass[sel]))
        report(str(path), summary, json_out)

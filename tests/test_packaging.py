"""Every source folder with an __init__.py is listed in pyproject's packages, and installed."""

import importlib
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAPPING = {"gnn4hep": "gnn4hep", "tracking": "gnn4hep.tracking", "quantum": "gnn4hep.quantum"}


def test_all_packages_listed_and_importable():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    found = set()
    for top, dotted in MAPPING.items():
        for init in (ROOT / top).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / top)
            found.add(".".join([dotted, *relative.parts]))
    assert found - listed == set(), "add these packages to pyproject.toml [tool.setuptools] packages"
    assert listed - found == set(), "pyproject lists packages that do not exist"
    for name in sorted(listed):
        importlib.import_module(name)


def test_torch_is_pinned_to_the_cpu_build_everywhere():
    constraints = (ROOT / "constraints.txt").read_text()
    assert "torch==2.13.0" in constraints
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "torch==2.13.0" in config["project"]["dependencies"]

"""Dependency bounds that the code relies on."""

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def _requirement(name: str) -> Requirement:
    deps = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    return next(r for r in map(Requirement, deps) if r.name == name)


def test_causal_learn_lower_bound_has_register_ci_test():
    """galinfo.causal.discovery registers its KNN-CMI test with causallearn's register_ci_test,
    which first ships in causal-learn 0.1.4.2 (0.1.3.8 and 0.1.4.1 lack it)."""
    from causallearn.utils import cit

    assert hasattr(cit, "register_ci_test")
    req = _requirement("causal-learn")
    assert not req.specifier.contains(Version("0.1.4.1"))
    assert req.specifier.contains(Version("0.1.4.2"))

"""The core package, the CLI and the dry run work without the ``sdss`` extra; a build says what to
install (one line, exit 2) and writes nothing."""

import subprocess
import sys
import textwrap

import pytest

BLOCKER = """
import sys

class _Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("astroquery", "reproject"):
            raise ImportError(f"No module named {name!r} (blocked by the test)")
        return None

sys.meta_path.insert(0, _Blocker())
"""


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCKER + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=120)


def test_core_imports_and_help_without_astroquery_or_reproject():
    res = _python("""
        import galinfo, galinfo.data, galinfo.data.dataset, galinfo.data.importers
        import galinfo.build.queries, galinfo.build.service, galinfo.build.sdss, galinfo.build.cutouts
        from typer.testing import CliRunner
        from galinfo.cli import app
        for args in (["--help"], ["build", "sdss", "--help"]):
            r = CliRunner().invoke(app, args)
            assert r.exit_code == 0, r.output
        assert "build" in CliRunner().invoke(app, ["--help"]).output
        assert not [m for m in sys.modules if m.split(".")[0] in ("astroquery", "reproject")]
        print("ok")
    """)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok"


@pytest.mark.parametrize("extra", [[], ["--no-images"]])
def test_build_without_the_extra_is_one_line_and_writes_nothing(tmp_path, extra):
    out = tmp_path / "out"
    res = _python(f"""
        sys.argv = ["galinfo", "build", "sdss", {str(out)!r}, "--limit", "3", *{extra!r}]
        from galinfo.cli import main
        main()
    """)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == [
        "error: galinfo build sdss needs astroquery and reproject: pip install 'galinfo[sdss]'"]
    assert list(tmp_path.iterdir()) == []


def test_dry_run_without_the_extra(tmp_path):
    res = _python(f"""
        sys.argv = ["galinfo", "build", "sdss", {str(tmp_path / "o")!r}, "--limit", "10", "--dry-run"]
        from galinfo.cli import main
        main()
    """)
    assert res.returncode == 0, res.stderr
    assert "SELECT TOP 10 p.objID" in res.stdout and "estimated download for 10 galaxies" in res.stdout


def test_the_sdss_extra_is_declared_and_installed_by_make():
    import tomllib
    from pathlib import Path

    from packaging.requirements import Requirement

    root = Path(__file__).resolve().parents[2]
    extra = tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"]["sdss"]
    assert {Requirement(r).name for r in extra} == {"astroquery", "reproject"}
    assert '-e ".[dev,dask,sdss]"' in (root / "Makefile").read_text()

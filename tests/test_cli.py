"""The CLI as a user meets it: help everywhere, one-line errors with exit status 2."""

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from galinfo.cli import app
from galinfo.data.dataset import write_dataset
from tests.conftest import NA10_FITS, make_catalog, require_real

runner = CliRunner()


def _run(*args):
    """Run the real entry point in a subprocess (exit codes and stderr as a user sees them)."""
    return subprocess.run([sys.executable, "-m", "galinfo.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def _commands(group, prefix=()):
    import typer.main

    cmd = typer.main.get_command(group)
    out = [prefix]
    for name, sub in getattr(cmd, "commands", {}).items():
        out.extend(_walk(sub, (*prefix, name)))
    return out


def _walk(cmd, prefix):
    out = [prefix]
    for name, sub in getattr(cmd, "commands", {}).items():
        out.extend(_walk(sub, (*prefix, name)))
    return out


def test_every_command_has_help():
    paths = _commands(app)
    assert ("info",) in paths and ("import", "na10") in paths
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage" in result.output


@pytest.mark.parametrize("args, needle", [
    (("info", "no/such/folder"), "dataset folder no/such/folder does not exist"),
    (("import", "table", "no/such.csv", "OUT"), "input file no/such.csv does not exist"),
])
def test_errors_are_one_line_exit_2(tmp_path, args, needle):
    res = _run(*args)
    assert res.returncode == 2
    assert needle in res.stderr
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_existing_output_refused(tmp_path):
    out = write_dataset(tmp_path / "ds", make_catalog(30))
    res = _run("import", "table", out / "catalog.fits", out)
    assert res.returncode == 2 and "already exists" in res.stderr


def test_info_lists_input_sets(tmp_path):
    out = write_dataset(tmp_path / "ds", make_catalog(30))
    res = _run("info", out)
    assert res.returncode == 0, res.stderr
    assert "M_ugriz|M_W123" in res.stdout and "30 galaxies" in res.stdout


@pytest.mark.real_data
def test_import_na10_then_info(tmp_path):
    res = _run("import", "na10", require_real(NA10_FITS), tmp_path / "na10")
    assert res.returncode == 0, res.stderr
    info = _run("info", tmp_path / "na10")
    assert info.returncode == 0
    for line in info.stdout.splitlines():
        for name in ("M_ugriz ", "Morph ", "zspec "):
            if line.strip("│ ").startswith(name):
                assert "yes" in line, line
    assert "morphology bands: gr" in info.stdout

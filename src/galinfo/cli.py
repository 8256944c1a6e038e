"""The ``galinfo`` command line.

Each subpackage owns its commands in ``galinfo.<pkg>.commands`` with a ``register(app)`` function;
heavy imports (torch, galsim) happen inside the commands so that ``galinfo --help`` stays fast.
A :class:`galinfo.errors.GalinfoError` becomes one red line on stderr and exit status 2.
"""

from __future__ import annotations

import importlib
import sys

import typer
from rich.console import Console

from galinfo.errors import GalinfoError

app = typer.Typer(
    name="galinfo",
    help="Train stellar-mass estimators on galaxy images and photometry, and interpret them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

_COMMAND_MODULES = (
    "galinfo.data.commands",
    "galinfo.build.commands",
    "galinfo.mock.commands",
    "galinfo.models.commands",
    "galinfo.knn.commands",
    "galinfo.info.commands",
    "galinfo.causal.commands",
    "galinfo.study.commands",
)

for _name in _COMMAND_MODULES:
    try:
        _module = importlib.import_module(_name)
    except ModuleNotFoundError as exc:  # a subpackage without commands yet
        if exc.name != _name:
            raise
        continue
    _module.register(app)


def main() -> None:
    """Entry point of the ``galinfo`` script."""
    try:
        app()
    except GalinfoError as exc:
        from rich.markup import escape  # a message may hold brackets: pip install 'galinfo[sdss]'

        Console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)


if __name__ == "__main__":
    main()

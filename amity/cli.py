"""The ``amity`` command line: the same core functions the web layer calls."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from tqdm import tqdm

from amity import __version__
from amity.problems import AmityError
from amity.store import EmbeddedStore, default_root

store_option = click.option(
    "--store", "store_path", type=click.Path(path_type=Path), default=None,
    help="Store directory (default: $AMITY_STORE or var/store).",
)


def open_store(store_path: Path | None) -> EmbeddedStore:
    return EmbeddedStore(store_path or default_root())


def tqdm_progress(description: str, total: int | None):
    return tqdm(desc=f"{description:>20}", total=total, unit=" triples" if total is None else " graphs",
                unit_scale=total is None, leave=False, file=sys.stderr, disable=None)


@click.group()
@click.version_option(__version__, prog_name="amity")
def cli() -> None:
    """Amity: the city-diplomacy knowledge graph and SPARQL endpoint."""


@cli.command()
@store_option
@click.option("--workers", type=int, default=2, show_default=True,
              help="Processes that validate graphs side by side.")
def build(store_path: Path | None, workers: int) -> None:
    """Build the default graph from every bundled source, validate it and publish it."""
    from amity.build import build as run_build
    from amity.report import print_build_report

    store = open_store(store_path)
    click.echo(f"Building the default graph into {store.root.resolve()} …")
    try:
        report = run_build(store, progress=tqdm_progress, workers=workers)
    except AmityError as error:
        reports = error.extra.get("reports")
        if reports:
            from amity.report import print_violations
            print_violations(reports)
        raise
    print_build_report(report)


def main() -> None:
    """Entry point: client mistakes become one line on stderr and exit status 1."""
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except AmityError as error:
        click.echo(f"Error: {error.title}: {error.detail}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()

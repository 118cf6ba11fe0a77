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


@cli.command()
@store_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=2, show_default=True, type=int, help="Web worker processes.")
@click.option("--threads", default=4, show_default=True, type=int, help="Threads per web worker.")
@click.option("--query-workers", default=None, type=int,
              help="Query processes per web worker (default: one per thread).")
@click.option("--timeout", "query_timeout", default=None, type=float,
              help="Per-query time limit in seconds (default: $AMITY_QUERY_TIMEOUT or 30).")
def serve(store_path: Path | None, host: str, port: int, workers: int, threads: int,
          query_workers: int | None, query_timeout: float | None) -> None:
    """Serve the graph over HTTP with gunicorn, building the default graph first if there is none."""
    from amity.serving import run_gunicorn

    store = open_store(store_path)
    if not store.exists():
        click.echo(f"No graph in {store.root.resolve()} yet: building the default graph first.")
        from amity.build import build as run_build
        from amity.report import print_build_report

        print_build_report(run_build(store, progress=tqdm_progress))
    run_gunicorn(store.root, host=host, port=port, workers=workers, threads=threads,
                 query_workers=query_workers if query_workers is not None else threads,
                 query_timeout=query_timeout)

"""The ``amity`` command line: the same core functions the web layer calls."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from tqdm import tqdm

from amity import __version__
from amity.external import ExternalStore
from amity.problems import AmityError
from amity.store import EmbeddedStore
from amity.stores import open_store as open_spec

store_option = click.option(
    "--store", "store_path", default=None,
    help="Store directory, or a remote SPARQL store as sparql+http(s)://host/sparql "
         "(default: $AMITY_STORE or var/store; remote settings: AMITY_STORE_* and AMITY_STATE_DIR).",
)


def open_store(store_path: str | Path | None) -> EmbeddedStore | ExternalStore:
    return open_spec(store_path)


def where(store: EmbeddedStore | ExternalStore) -> str:
    """How messages name a store: its directory, or its URL and state directory."""
    if isinstance(store, ExternalStore):
        return f"{store.spec} (state in {store.root.resolve()})"
    return str(store.root.resolve())


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
def build(store_path: str | None, workers: int) -> None:
    """Build the default graph from every bundled source, validate it and publish it."""
    from amity.build import build as run_build
    from amity.report import print_build_report

    store = open_store(store_path)
    click.echo(f"Building the default graph into {where(store)} …")
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



@cli.command()
@store_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--workers", default=2, show_default=True, type=int, help="Web worker processes.")
@click.option("--threads", default=16, show_default=True, type=int,
              help="Threads per web worker (most of them wait for a query process: they are cheap).")
@click.option("--query-workers", default=4, show_default=True, type=int,
              help="Query processes per web worker, half in the fast lane, half in the slow lane.")
@click.option("--timeout", "query_timeout", default=None, type=float,
              help="Per-query time limit in seconds (default: $AMITY_QUERY_TIMEOUT or 30).")
def serve(store_path: str | None, host: str, port: int, workers: int, threads: int,
          query_workers: int, query_timeout: float | None) -> None:
    """Serve the graph over HTTP with gunicorn, building the default graph first if there is none."""
    from amity.serving import run_gunicorn

    store = open_store(store_path)
    if not store.exists():
        click.echo(f"No graph in {where(store)} yet: building the default graph first.")
        from amity.build import build as run_build
        from amity.report import print_build_report

        print_build_report(run_build(store, progress=tqdm_progress))
    run_gunicorn(store, host=host, port=port, workers=workers, threads=threads,
                 query_workers=query_workers,
                 query_timeout=query_timeout)


@cli.command()
@store_option
@click.argument("name", required=False)
@click.option("--param", "-p", "params", multiple=True, metavar="K=V",
              help="A parameter value, e.g. --param city=Qingdao (repeat for more).")
@click.option("--format", "-f", "format_name", default="table", show_default=True,
              help="table, or any format of the answer: json, xml, csv, tsv (SELECT); turtle, ntriples, "
                   "jsonld, rdfxml (CONSTRUCT).")
@click.option("--limit", type=int, default=None, help="Answer one page of at most this many rows.")
@click.option("--offset", type=int, default=0, show_default=True, help="Rows to skip before the page.")
@click.option("--list", "list_only", is_flag=True, help="List the saved queries and their parameters.")
def query(store_path: str | None, name: str | None, params: tuple[str, ...], format_name: str,
          limit: int | None, offset: int, list_only: bool) -> None:
    """Run saved query NAME (the same answer as GET /queries/NAME), or list the catalogue."""
    from amity import catalogue
    from amity.problems import BadParameter

    if list_only or not name:
        for saved in catalogue.load_catalogue():
            click.echo(f"{saved.name:<34} {saved.title}")
            for parameter in saved.params:
                default = f" (default {parameter.default})" if parameter.default else ""
                click.echo(f"{'':<36}--param {parameter.name}=<{parameter.type}>{default}")
        return
    values: dict[str, str] = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise BadParameter(f"--param expects NAME=VALUE, got {item!r}")
        values[key.strip()] = value
    limit, offset = catalogue.page_bounds(limit, offset)
    table = format_name.lower() in ("table", "text")
    answer = catalogue.run(open_store(store_path), name, values, "json" if table else format_name,
                           limit=limit, offset=offset)
    body = b"".join(answer.chunks)
    if table:
        from amity.results import parse, text_table

        click.echo(text_table(parse(body)))
        if answer.has_more:
            click.echo(f"(more rows follow: --offset {offset + (limit or 0)})")
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(body)  # the bytes exactly as the HTTP API sends them
        sys.stdout.buffer.flush()


# -- partners (docs/partners.md) ---------------------------------------------------------------------------


@cli.group()
def partner() -> None:
    """Partner institutions: their tokens, and rolling their graphs back."""


@partner.command("add")
@store_option
@click.argument("name")
@click.option("--replace-token", is_flag=True, help="Issue a new token for an existing (or revoked) partner.")
def partner_add(store_path: str | None, name: str, replace_token: bool) -> None:
    """Register partner NAME and print its token, once, alone on the last line."""
    from amity.partners import Registry

    added, token = Registry(open_store(store_path)).add(name, replace_token=replace_token)
    click.echo(f"Partner {added.name} may write <{added.graph}> and every graph below it.")
    click.echo("Send 'Authorization: Bearer TOKEN'. The token is shown only now; the store keeps its SHA-256:")
    click.echo(token)


@partner.command("list")
@store_option
def partner_list(store_path: str | None) -> None:
    """List partners, whether their token works, and the graphs they hold."""
    from amity.partners import PARTNER_GRAPHS, Registry, owner_of

    store = open_store(store_path)
    graphs: dict[str, int] = {}
    if store.exists():
        for graph in store.reader().named_graphs():
            owner = owner_of(graph.value) if graph.value.startswith(PARTNER_GRAPHS) else None
            if owner:
                graphs[owner] = graphs.get(owner, 0) + 1
    for entry in Registry(store).all():
        state = f"revoked {entry.revoked}" if entry.revoked else "active"
        click.echo(f"{entry.name:<24} {state:<30} since {entry.created}  {graphs.get(entry.name, 0)} graph(s)")


@partner.command("revoke")
@store_option
@click.argument("name")
def partner_revoke(store_path: str | None, name: str) -> None:
    """Make NAME's token useless at once; its graphs and their history stay."""
    from amity.partners import Registry

    revoked = Registry(open_store(store_path)).revoke(name)
    click.echo(f"Partner {revoked.name}: token revoked ({revoked.revoked}).")


@partner.command("rollback")
@store_option
@click.argument("name")
@click.option("--graph", "graph", required=True, help="The partner graph IRI.")
@click.option("--to", "to", required=True, type=int, help="The version to restore (see GET /store/history).")
def partner_rollback(store_path: str | None, name: str, graph: str, to: int) -> None:
    """Restore version --to of one of NAME's graphs, recorded as a new version (as POST /store/rollback)."""
    from amity import merge
    from amity.partners import Registry

    store = open_store(store_path)
    answer = merge.rollback(store, Registry(store).get(name), graph, to)
    click.echo(f"<{graph}> is now version {answer['version']}, a copy of version {to} "
               f"({answer['triples']['after']} triples, {answer.get('conflict_count', 0)} conflict(s)).")


@cli.command("validate")
@store_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--graph", default=None, help="The graph the file is meant for (default: a scratch graph).")
@click.option("--format", "format_name", default=None,
              help="turtle, ntriples, jsonld, rdfxml, nquads or trig (default: from the file's extension).")
@click.option("--json", "as_json", is_flag=True, help="Print the whole answer as JSON.")
def validate_file(store_path: str | None, file: Path, graph: str | None, format_name: str | None,
                  as_json: bool) -> None:
    """Check FILE as a partner upload would be checked, against the current graph; write nothing."""
    import json

    from amity import formats, merge
    from amity.problems import ShapeViolation

    fmt = formats.by_name(format_name, formats.UPLOADS) if format_name else None
    store = open_store(store_path)
    try:
        answer = merge.dry_run(store, merge.from_file(file, fmt), graph=graph)
    except ShapeViolation as error:
        answer = {"conforms": False, **error.extra}
    if as_json:
        click.echo(json.dumps(answer, ensure_ascii=False, indent=1))
    else:
        _print_check(answer)
    if not answer["conforms"]:
        sys.exit(1)


def _print_check(answer: dict) -> None:
    report = answer.get("report") or answer.get("validation") or {}
    status = "conforms" if answer["conforms"] else f"{report.get('violations', '?')} violation(s)"
    click.echo(f"{status}; {report.get('warnings', 0)} SHACL warning(s), "
               f"{answer.get('warning_count', 0)} reconciliation warning(s), "
               f"{answer.get('conflict_count', 0)} conflict(s) with the reference data")
    for result in report.get("results", []):
        if result["resultSeverity"] == "Violation":
            path = result["resultPath"] or ""
            click.echo(f"  violation  <{result['focusNode']}> {path}: {result['resultMessage']}")
    for warning in answer.get("warnings", []):
        click.echo(f"  warning    {warning['message']}")
    for conflict in answer.get("conflicts", []):
        click.echo(f"  conflict   <{conflict['subject']}> {conflict['predicate']}: "
                   f"{', '.join(conflict['partner_value'])} here, {conflict['reference_value']} in "
                   f"<{conflict['reference_graph']}>")


if __name__ == "__main__":
    main()

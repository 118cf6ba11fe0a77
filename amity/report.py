"""Plain-text reports for the command line: what a build did, with counts and timings."""

from __future__ import annotations

from collections import Counter
from typing import Any

import click

from amity import iris
from amity.build import BuildReport


def print_build_report(report: BuildReport) -> None:
    click.echo(f"\nPublished version {report.version} in {report.store.resolve()}\n")
    click.echo(f"{'graph':<28}{'triples':>10}{'seconds':>10}")
    for result in report.graphs:
        click.echo(f"{iris.key_of(result.graph):<28}{result.triples:>10,}{result.seconds:>10.2f}")
    for name, count in report.derived.items():
        click.echo(f"{'derived: ' + name:<28}{count:>10,}")
    if report.carried_over:
        click.echo(f"{'partner graphs (kept)':<28}{report.carried_over:>10,}")
    click.echo(f"{'total':<28}{report.total_triples + report.carried_over:>10,}\n")

    warnings = sum(len(r.results) - r.violations for r in report.validation.values())
    click.echo(f"SHACL: {len(report.validation)} graph groups, {report.violations} violations, "
               f"{warnings} warnings")

    if report.unmatched:
        click.echo(f"\nUnmatched entities: {len(report.unmatched)} (full list in "
                   f"{(report.store / 'reports' / 'unmatched.tsv').resolve()})")
        for (source, reason), n in Counter((u.source, u.reason) for u in report.unmatched).most_common():
            click.echo(f"  {n:>6}  {source}: {reason}")
    if report.problems:
        click.echo(f"\nSource rows not used: {len(report.problems)}")
        for problem in report.problems[:50]:
            click.echo(f"  {problem}")
        if len(report.problems) > 50:
            click.echo(f"  … and {len(report.problems) - 50} more")

    click.echo("\nTimings:")
    for step, seconds in report.timings.items():
        click.echo(f"  {step:<28}{seconds:>8.2f} s")


def print_violations(reports: dict[str, Any]) -> None:
    for name, report in reports.items():
        click.echo(f"\nSHACL report for {name}:", err=True)
        for result in report.get("results", [])[:100]:
            click.echo(f"  {result.get('severity')}: {result.get('focusNode')} {result.get('path') or ''} "
                       f"— {result.get('message')}", err=True)

"""The ``medpolicy`` command: thin verbs over the engine, the policy tools and the service."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from medpolicy.adapters.native import parse_any, record_schema, request_schema
from medpolicy.engine.decision import Decision
from medpolicy.errors import RequestError
from medpolicy.policy.diagnostics import PolicyError
from medpolicy.policy.registry import POLICY_FILE, PolicyRegistry, default_policies_dir
from medpolicy.render import render_decision, render_policy
from medpolicy.service import evaluate_request

__all__ = ["main"]

EXIT_BAD_INPUT = 2


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="medpolicy")
def main() -> None:
    """Executable, explainable medical coverage guidelines."""


def _registry(policies: Path | None) -> PolicyRegistry:
    try:
        return PolicyRegistry.load_dir(policies)
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from None


_policies_option = click.option(
    "--policies",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Folder of policy files (default: $MEDPOLICY_POLICIES or the repository's policies/).",
)


@main.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the decision JSON.")
@_policies_option
def evaluate(files: tuple[str, ...], as_json: bool, policies: Path | None) -> None:
    """Evaluate request FILES ('-' reads standard input) and print each decision."""
    registry = _registry(policies)
    failed = False
    for name in files:
        try:
            text = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        except OSError as exc:
            click.echo(f"{name}: cannot read: {exc.strerror}", err=True)
            failed = True
            continue
        try:
            decision = evaluate_request(registry, parse_any(text))
        except RequestError as exc:
            click.echo(f"{name}: the request cannot be evaluated:", err=True)
            for error in exc.errors:
                click.echo(f"  {error}", err=True)
            failed = True
            continue
        if as_json:
            click.echo(decision.to_json(indent=True), nl=False)
        else:
            if len(files) > 1:
                click.echo(f"=== {name}")
            click.echo(render_decision(decision))
    if failed:
        sys.exit(EXIT_BAD_INPUT)


@main.group()
def schema() -> None:
    """Publish JSON Schemas."""


@schema.command("record")
def schema_record() -> None:
    """The JSON Schema of a request as a clinical record (the current format)."""
    click.echo(json.dumps(record_schema(), indent=2, sort_keys=True))


@schema.command("request")
def schema_request() -> None:
    """The JSON Schema of a request in the earlier format (still read, into a record)."""
    click.echo(json.dumps(request_schema(), indent=2, sort_keys=True))


@schema.command("decision")
def schema_decision() -> None:
    """The JSON Schema of a decision."""
    click.echo(json.dumps(Decision.model_json_schema(), indent=2, sort_keys=True))


@main.group()
def policy() -> None:
    """Validate, show and test policy files."""


def _policy_paths(target: Path | None) -> list[Path]:
    root = target or default_policies_dir()
    if root.is_file():
        return [root]
    return sorted(root.rglob(POLICY_FILE))


@policy.command("show")
@click.argument("target", required=False, type=click.Path(path_type=Path, exists=True))
def policy_show(target: Path | None) -> None:
    """Print a policy's criteria tree as readable text."""
    from medpolicy.policy.load import load_policy

    for path in _policy_paths(target):
        try:
            click.echo(render_policy(load_policy(path)))
        except PolicyError as exc:
            raise click.ClickException(str(exc)) from None


@policy.command("check")
@click.argument("target", required=False, type=click.Path(path_type=Path, exists=True))
def policy_check(target: Path | None) -> None:
    """Validate policy files and report clause coverage of the position statement."""
    from medpolicy.policy.coverage import coverage_report

    ok = True
    for path in _policy_paths(target):
        report, passed = coverage_report(path)
        click.echo(report)
        ok = ok and passed
    if not ok:
        sys.exit(1)


@policy.command("test")
@click.argument("target", required=False, type=click.Path(path_type=Path, exists=True))
@click.option("-v", "--verbose", is_flag=True, help="List every case, not only failures.")
def policy_test(target: Path | None, verbose: bool) -> None:
    """Run each policy's own case file (cases.yaml beside policy.yaml)."""
    from medpolicy.policy.cases import run_cases

    ok = True
    for path in _policy_paths(target):
        results = run_cases(path)
        for r in results:
            if verbose or not r.passed:
                click.echo(f"{'PASS' if r.passed else 'FAIL'} {r.name}")
                for problem in r.problems:
                    click.echo(f"     {problem}")
        passed = sum(r.passed for r in results)
        click.echo(f"{path}: {passed} passed, {len(results) - passed} failed")
        ok = ok and passed == len(results)
    if not ok:
        sys.exit(1)


def _register_service_commands() -> None:
    # The service's verbs (serve, token, audit, report) live with the service.
    from medpolicy.api.commands import register

    register(main)


_register_service_commands()


def _register_claims_commands() -> None:
    # The claims audit's verbs (claims audit, claims generate) live with the batch package.
    from medpolicy.batch.commands import claims

    main.add_command(claims)


_register_claims_commands()

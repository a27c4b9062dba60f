"""The ``medpolicy claims`` verbs: ``audit`` and ``generate``."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from medpolicy.policy.diagnostics import PolicyError

__all__ = ["claims"]


def _policy(policy_file: Path | None, policies: Path | None) -> object:
    from medpolicy.policy.load import load_policy
    from medpolicy.policy.registry import PolicyRegistry

    try:
        if policy_file is not None:
            return load_policy(policy_file)
        registry = PolicyRegistry.load_dir(policies)
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from None
    # the deployment audits its own payer's claims: the one policy of that payer (peer plans'
    # policies kept beside it for comparison are not its rules)
    found = [p for p in registry.all() if p.meta.applies_to.payer == registry.default_payer]
    if len(found) != 1:
        names = ", ".join(p.meta.id for p in found) or "none"
        payer = registry.default_payer or "none named"
        raise click.ClickException(
            f"name the policy with --policy (policies of the deployment's payer, {payer}: {names})"
        )
    return found[0]


_policy_option = click.option(
    "--policy",
    "policy_file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="The policy file (default: the one policy of the deployment's payer under "
    "$MEDPOLICY_POLICIES or policies/).",
)


@click.group()
def claims() -> None:
    """Audit paid claim lines against a policy (DuckDB, or Spark for a cluster)."""


class _Progress:
    """A progress bar over the audit's steps, on standard error."""

    def __init__(self, enabled: bool, steps: int) -> None:
        self.enabled, self.steps, self.done = enabled, steps, 0
        self.started = self.last = time.perf_counter()

    def __call__(self, label: str) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        width = 30
        filled = width * self.done // self.steps
        bar = "#" * filled + "-" * (width - filled)
        click.echo(
            f"\r[{bar}] {self.done}/{self.steps} {now - self.started:6.1f}s {label:<56}",
            err=True,
            nl=False,
        )
        self.done = min(self.steps, self.done + 1)
        self.last = now

    def finish(self) -> None:
        if self.enabled:
            self.done = self.steps
            self("done")
            click.echo("", err=True)


@claims.command("audit")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Folder for the results.",
)
@click.option(
    "--authorizations",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Authorizations file (CSV or Parquet).",
)
@click.option(
    "--database",
    help="Read authorizations from the service's store (sqlite:///… or postgresql://…).",
)
@click.option(
    "--members",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="Members' weights (CSV or Parquet).",
)
@click.option(
    "--engine", type=click.Choice(["duckdb", "spark"]), default="duckdb", show_default=True
)
@click.option("--spark-master", default=None, help="Spark master URL (default local[*]).")
@click.option(
    "--memory-limit",
    default=None,
    help="DuckDB's memory limit (e.g. 4GB); past it, it spills to disk.",
)
@click.option(
    "--lines-per-pass",
    type=click.IntRange(min=1),
    default=None,
    help="DuckDB audits a larger input a group of members at a time, about this many lines a "
    "pass (default 10,000,000), so peak memory follows the pass, not the input.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar (default: when standard error is a terminal).",
)
@click.option("--no-report", is_flag=True, help="Skip the HTML report.")
@_policy_option
@click.option(
    "--policies", type=click.Path(path_type=Path, file_okay=False), default=None, hidden=True
)
def claims_audit(
    files: tuple[Path, ...],
    out: Path,
    authorizations: Path | None,
    database: str | None,
    members: Path | None,
    engine: str,
    spark_master: str | None,
    memory_limit: str | None,
    lines_per_pass: int | None,
    progress: bool | None,
    no_report: bool,
    policy_file: Path | None,
    policies: Path | None,
) -> None:
    """Check claim-line FILES (CSV or Parquet) against the policy; write flags, summaries, rejects
    and a report to --out."""
    from medpolicy.batch.audit import LINES_PER_PASS, STEP_LABELS, run_audit
    from medpolicy.batch.plan import Unsupported

    if authorizations is not None and database is not None:
        raise click.UsageError("give --authorizations or --database, not both")
    policy = _policy(policy_file, policies)
    bar = _Progress(sys.stderr.isatty() if progress is None else progress, len(STEP_LABELS) + 2)
    try:
        result = run_audit(
            policy,  # type: ignore[arg-type]
            list(files),
            out,
            engine=engine,
            authorizations=authorizations,
            database=database,
            members=members,
            spark_master=spark_master,
            memory_limit=memory_limit,
            lines_per_pass=lines_per_pass or LINES_PER_PASS,
            progress=bar,
            report=not no_report,
        )
    except Unsupported as exc:
        raise click.ClickException(str(exc)) from None
    bar.finish()
    t = result.totals
    click.echo(
        f"{t['lines_read']} lines read, {t['lines_rejected']} rejected, "
        f"{t['lines_in_scope']} audited, "
        f"{t['lines_flagged']} flagged ({t['flags']} flags), ${t['dollars_at_risk'] or 0} at risk "
        f"of ${t['paid'] or 0} paid, in {result.seconds:.1f}s on {result.engine}"
    )
    for row in result.summaries["summary_by_check"].to_pylist():
        click.echo(
            f"  {row['check']:<32} {row['lines_flagged']:>9} lines  ${row['dollars_at_risk']}"
        )
    if t["rejects"]:
        click.echo(f"  {t['rejects']} rows rejected: see {result.files['rejects']}")
    click.echo(f"results in {out}/")


@claims.command("generate")
@click.option(
    "--lines", "count", type=click.IntRange(min=1), required=True, help="How many claim lines."
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The claims file (.parquet or .csv).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--rate",
    type=click.FloatRange(0, 0.11),
    default=0.01,
    show_default=True,
    help="Share of members with each kind of violation.",
)
@_policy_option
@click.option(
    "--policies", type=click.Path(path_type=Path, file_okay=False), default=None, hidden=True
)
def claims_generate(
    count: int, out: Path, seed: int, rate: float, policy_file: Path | None, policies: Path | None
) -> None:
    """Write synthetic claim lines with violations injected at known rates, beside them the
    authorizations, the members' weights and the truth (the lines each check must flag)."""
    from medpolicy.batch.generate import generate_claims

    policy = _policy(policy_file, policies)
    try:
        made = generate_claims(policy, count, out, seed=seed, rate=rate)  # type: ignore[arg-type]
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{made.lines} claim lines in {made.claims}")
    for path in (made.authorizations, made.members, made.truth):
        click.echo(f"  {path}")
    injected = ", ".join(f"{k} {v}" for k, v in made.injected.items())
    click.echo(f"  members with an injected violation: {injected}")

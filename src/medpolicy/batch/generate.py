"""``medpolicy claims generate``: synthetic claim lines for the policy's drug, with violations of
each kind injected at known rates, and the truth (which line each check must flag).

Members are treated every 21-25 days at 3.6, 3.0 or 2.4 mg/kg of their weight, billed as the
policy's billing rules say (``definitions.billing``: administered units rounded up, the least-waste
vials, a JW line for what is discarded or JZ when nothing is), with a supporting code drawn from
the policy's own code sets and an authorization such as an approval would carry
(``engine.authorize``: six months, the units per administration and in total). A member carries at
most one injected violation, chosen so that exactly the lines the truth names are flagged.
Generation is vectorized and written in chunks of members, so 50M lines take constant memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from medpolicy.batch import plan as p
from medpolicy.batch.mapping import audit_plan, code_set_start
from medpolicy.definitions.billing import least_waste_vials
from medpolicy.definitions.icd10 import expand_range, is_billable
from medpolicy.engine.authorize import add_months
from medpolicy.policy.tree import Policy

__all__ = ["INJECTIONS", "GeneratedFiles", "companion", "generate_claims"]

# each kind of violation injected, and the checks whose flags it makes
INJECTIONS: Final = (
    "diagnosis",
    "dose",
    "vials",
    "interval",
    "no_authorization",
    "units_exceeded",
    "look_alike_line",
    "look_alike_authorization",
    "duplicate",
)
_RATES_MG_PER_KG_TENTHS: Final = (36, 30, 24)  # 3.6, 3.0, 2.4 mg/kg: the label's dose levels
_PRICE_CENTS_PER_UNIT: Final = 2957
_START: Final = date(2025, 4, 1)
_SPAN_DAYS: Final = 540
_EPOCH: Final = date(1970, 1, 1)
CLAIM_SCHEMA: Final = pa.schema(
    [
        ("claim_id", pa.string()),
        ("line_number", pa.int64()),
        ("member_id", pa.string()),
        ("service_date", pa.date32()),
        ("hcpcs", pa.string()),
        ("modifiers", pa.string()),
        ("units", pa.int64()),
        ("dx1", pa.string()),
        ("dx2", pa.string()),
        ("dx3", pa.string()),
        ("dx4", pa.string()),
        ("rendering_npi", pa.string()),
        ("billing_npi", pa.string()),
        ("place_of_service", pa.string()),
        ("paid_amount", pa.decimal128(12, 2)),
    ]
)
TRUTH_SCHEMA: Final = pa.schema(
    [
        ("claim_id", pa.string()),
        ("line_number", pa.int64()),
        ("check", pa.string()),
        ("injected", pa.string()),
    ]
)


@dataclass(frozen=True)
class GeneratedFiles:
    claims: Path
    authorizations: Path
    members: Path
    truth: Path
    lines: int
    injected: dict[str, int]  # kind -> members injected


def companion(claims: Path, what: str) -> Path:
    """``claims.parquet`` -> ``claims.authorizations.parquet`` (and .members, .truth)."""
    return claims.with_name(f"{claims.stem}.{what}{claims.suffix}")


def generate_claims(
    policy: Policy,
    lines: int,
    out: Path,
    *,
    seed: int = 0,
    rate: float = 0.01,
    chunk_members: int = 200_000,
) -> GeneratedFiles:
    """About ``lines`` claim lines (exactly ``lines``: the last member's lines are topped up with
    administration-code lines the audit does not read), ``rate`` of members with each violation."""
    if rate * len(INJECTIONS) > 1:
        raise ValueError(f"rate {rate} is too high: at most {1 / len(INJECTIONS):.3f} per kind")
    plan = audit_plan(policy)
    world = _World.of(plan, policy)
    rng = np.random.default_rng(seed)
    kind = companion_writer(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    writers = {
        name: kind(companion(out, name) if name != "claims" else out, schema)
        for name, schema in (
            ("claims", CLAIM_SCHEMA),
            ("authorizations", _AUTH_SCHEMA),
            ("members", _MEMBER_SCHEMA),
            ("truth", TRUTH_SCHEMA),
        )
    }
    written, first_member, injected = 0, 0, dict.fromkeys(INJECTIONS, 0)
    try:
        while written < lines:
            size = min(chunk_members, (lines - written) // 5 + 16)  # a member has ~6.4 lines
            chunk = _Chunk.make(world, rng, first_member, size, rate)
            table = chunk.claims
            if written + table.num_rows > lines:
                table = chunk.trim(lines - written)
            for name, data in (
                ("claims", table),
                ("authorizations", chunk.authorizations),
                ("members", chunk.members),
                ("truth", chunk.truth),
            ):
                writers[name].write(data)
            for k in INJECTIONS:
                injected[k] += chunk.injected.get(k, 0)
            written += table.num_rows
            first_member += chunk.size
    finally:
        for w in writers.values():
            w.close()
    return GeneratedFiles(
        out,
        companion(out, "authorizations"),
        companion(out, "members"),
        companion(out, "truth"),
        written,
        injected,
    )


_AUTH_SCHEMA: Final = pa.schema(
    [
        ("authorization_id", pa.string()),
        ("member_id", pa.string()),
        ("hcpcs", pa.string()),
        ("period_start", pa.date32()),
        ("period_end", pa.date32()),
        ("units_per_administration", pa.int64()),
        ("total_units", pa.int64()),
    ]
)
_MEMBER_SCHEMA: Final = pa.schema([("member_id", pa.string()), ("weight_kg", pa.decimal128(9, 3))])


class _Writer:
    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path, self.schema = path, schema
        self._writer: Any = (
            pq.ParquetWriter(path, schema)
            if path.suffix.lower() == ".parquet"
            else pacsv.CSVWriter(path, schema)
        )

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table.select(self.schema.names).cast(self.schema))

    def close(self) -> None:
        self._writer.close()


def companion_writer(out: Path) -> type[_Writer]:
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise ValueError(f"{out}: the claims file must end in .parquet or .csv")
    return _Writer


@dataclass(frozen=True)
class _World:
    """What the policy says that the generator needs: its codes, its drug, its vials."""

    plan: p.AuditPlan
    codes: np.ndarray  # supporting codes in effect on every date, of a listed indication
    other_codes: np.ndarray  # ... of a condition no indication lists (5: other FDA or NCCN use)
    new_codes: np.ndarray  # supporting only from ``new_from``
    unsupporting: np.ndarray  # billable codes near the supporting ones that support no indication
    new_from: int  # days since the epoch
    waste: np.ndarray  # units -> units discarded (least-waste vials)
    others: np.ndarray  # the family's other products' HCPCS codes
    min_days: int
    vial_sizes: tuple[int, ...]

    @classmethod
    def of(cls, plan: p.AuditPlan, policy: Policy) -> _World:
        diagnosis = next(c for c in plan.checks if isinstance(c, p.SupportingDiagnosis))
        interval = next(c for c in plan.checks if isinstance(c, p.DosingInterval))
        start = code_set_start(diagnosis.code_set) or _START
        most = 2000
        drug = policy.drug
        waste = np.array(
            [0]
            + [
                least_waste_vials(
                    Decimal(u) * drug.mg_per_unit, drug.vial_sizes_mg, drug.mg_per_unit
                ).waste_units
                for u in range(1, most)
            ]
        )
        return cls(
            plan=plan,
            codes=np.array([c.code for c in diagnosis.codes if c.valid_from is None and c.listed]),
            other_codes=np.array(
                [c.code for c in diagnosis.codes if c.valid_from is None and not c.listed] or [""]
            ),
            new_codes=np.array(
                [c.code for c in diagnosis.codes if c.valid_from is not None] or [""]
            ),
            new_from=(start - _EPOCH).days,
            unsupporting=_unsupporting(diagnosis.codes),
            waste=waste,
            others=np.array([f.hcpcs for f in plan.family if f.drug != plan.drug]),
            min_days=interval.min_days,
            vial_sizes=drug.vial_sizes_mg,
        )


def _unsupporting(codes: tuple[p.SupportingCode, ...], most: int = 16) -> np.ndarray:
    """Near misses, read from the code set rather than typed: billable codes in the span of the
    supporting codes' categories (a benign or in-situ neoplasm beside the cancers) that support no
    indication, evenly spaced over that span."""
    supporting = {c.code for c in codes}
    categories = sorted({c.code[:3] for c in codes})
    span = expand_range(categories[0], categories[-1])
    near = [c for c in span if c not in supporting and is_billable(c)]
    if not near:
        raise ValueError("the supporting codes leave no code of their span unsupported")
    step = max(1, len(near) // most)
    return np.array(near[::step][:most])


def _text(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _days(days: np.ndarray) -> pa.Array:
    return pa.array(days.astype("int32"), pa.int32()).cast(pa.date32())


@dataclass
class _Lines:
    """Claim lines as column arrays, built per kind of line and stacked."""

    parts: list[dict[str, Any]]

    def add(self, **columns: Any) -> None:
        self.parts.append(columns)

    def table(self) -> pa.Table:
        names = [*CLAIM_SCHEMA.names, "member", "order"]
        columns = {}
        for name in names:
            chunks = [part[name] for part in self.parts]
            arrays = [c if isinstance(c, pa.Array) else pa.array(c) for c in chunks]
            target = CLAIM_SCHEMA.field(name).type if name in CLAIM_SCHEMA.names else pa.int64()
            columns[name] = pa.concat_arrays([a.cast(target) for a in arrays])
        table = pa.table(columns)
        return table.sort_by([("member", "ascending"), ("order", "ascending")])


@dataclass
class _Chunk:
    size: int
    claims: pa.Table
    authorizations: pa.Table
    members: pa.Table
    truth: pa.Table
    injected: dict[str, int]
    line_member: np.ndarray
    kind: np.ndarray
    first: int

    @classmethod
    def make(
        cls, world: _World, rng: np.random.Generator, first: int, size: int, rate: float
    ) -> _Chunk:
        return _Build(world, rng, first, size, rate).chunk()

    def trim(self, count: int) -> pa.Table:
        """The first ``count`` lines: whole members, then lines the audit does not read."""
        keep = (
            int(np.searchsorted(self.line_member, self.line_member[count], side="left"))
            if count < len(self.line_member)
            else count
        )
        kept = self.claims.slice(0, keep)
        last = int(self.line_member[count]) if count < len(self.line_member) else 0
        pad = count - keep
        if pad:
            template = self.claims.slice(0, 1).to_pylist()[0] if keep else None
            rows = [
                {
                    **(template or {}),
                    "claim_id": f"P{last:09d}{i:03d}",
                    "line_number": 1,
                    "hcpcs": "J1100",
                    "modifiers": None,
                    "units": 1,
                    "paid_amount": Decimal("1.00"),
                    "member_id": f"M{last:09d}",
                    "service_date": (template or {}).get("service_date", _START),
                    "dx1": "Z51.11",
                    "rendering_npi": "1000000001",
                    "billing_npi": "1000000002",
                    "place_of_service": "11",
                }
                for i in range(pad)
            ]
            kept = pa.concat_tables(
                [
                    kept.select(CLAIM_SCHEMA.names).cast(CLAIM_SCHEMA),
                    pa.Table.from_pylist(rows, schema=CLAIM_SCHEMA),
                ]
            )
        kept_claims = pc.is_in(self.truth.column("claim_id"), value_set=kept.column("claim_id"))
        self.truth = self.truth.filter(kept_claims)
        whole = (
            self.kind[: max(0, last - self.first)] if count < len(self.line_member) else self.kind
        )
        self.injected = {name: int((whole == i).sum()) for i, name in enumerate(INJECTIONS)}
        return kept


class _Build:
    def __init__(
        self, world: _World, rng: np.random.Generator, first: int, size: int, rate: float
    ) -> None:
        self.w, self.rng, self.first, self.size = world, rng, first, size
        probabilities = [rate] * len(INJECTIONS) + [1 - rate * len(INJECTIONS)]
        self.kind = rng.choice(len(INJECTIONS) + 1, size=size, p=probabilities)
        self.truth: list[tuple[pa.Array, np.ndarray, str, str]] = []

    def _is(self, name: str) -> np.ndarray:
        return np.asarray(self.kind == INJECTIONS.index(name))

    def chunk(self) -> _Chunk:
        w, rng, size = self.w, self.rng, self.size
        member = np.arange(size) + self.first
        n_adm = rng.integers(1, 8, size)
        n_adm[(self._is("interval") | self._is("no_authorization")) & (n_adm < 2)] = 2
        weight_t = rng.integers(450, 1301, size)  # tenths of a kg
        has_weight = rng.random(size) < 0.9
        limit = _limit(w.plan)
        rate_n, rate_d = limit.as_integer_ratio()
        shares = np.array([6, 5, 4])[rng.integers(0, 3, size)]  # 6/6, 5/6, 4/6 of the limit
        planned = _ceil_div(weight_t * rate_n * shares, 10 * rate_d * 6)
        most = _ceil_div(weight_t * rate_n, 10 * rate_d)
        start = (_START - _EPOCH).days + rng.integers(0, _SPAN_DAYS, size)
        dx = w.codes[rng.integers(0, len(w.codes), size)]
        if w.other_codes[0]:
            other = rng.random(size) < 0.05
            dx = np.where(other, w.other_codes[rng.integers(0, len(w.other_codes), size)], dx)
        new = (start >= w.new_from) & (rng.random(size) < 0.2) & (w.new_codes[0] != "")
        dx = np.where(new, w.new_codes[rng.integers(0, len(w.new_codes), size)], dx)
        dx2 = _or_none(rng.random(size) < 0.3, "Z51.11")
        billing = 1_000_000_000 + rng.integers(0, 300, size) * 7919
        rendering = 1_500_000_000 + rng.integers(0, 1000, size) * 104_729
        pos = np.where(rng.random(size) < 0.5, "11", "22")

        # administrations
        total = int(n_adm.sum())
        adm_member = np.repeat(np.arange(size), n_adm)
        offsets = np.cumsum(n_adm) - n_adm
        k = np.arange(total) - np.repeat(offsets, n_adm)
        last = k == n_adm[adm_member] - 1
        gaps = rng.integers(w.min_days, w.min_days + 5, total)
        gaps[k == 0] = 0
        short = last & self._is("interval")[adm_member]
        gaps[short] = rng.integers(w.min_days - 7, w.min_days, int(short.sum()))
        cum = np.cumsum(gaps)
        day = start[adm_member] + cum - cum[np.repeat(offsets, n_adm)]
        units = planned[adm_member].copy()
        over = last & self._is("dose")[adm_member]
        base = np.where(has_weight, most, planned)[adm_member]
        units[over] = base[over] + rng.integers(1, 21, int(over.sum()))
        waste = w.waste[units]
        adm_dx = dx[adm_member].copy()
        bad_dx = last & self._is("diagnosis")[adm_member]
        not_yet = bad_dx & (day < w.new_from) & (w.new_codes[0] != "")
        adm_dx[bad_dx] = w.unsupporting[rng.integers(0, len(w.unsupporting), int(bad_dx.sum()))]
        adm_dx[not_yet] = w.new_codes[0]
        adm_dx2 = dx2[adm_member].copy()
        adm_dx2[bad_dx] = None

        # vials: JZ for waste, a wrong JW amount, JW missing, or JZ missing
        vial = last & self._is("vials")[adm_member]
        variant = rng.integers(0, 3, total)
        jz_for_waste = vial & (waste > 0) & (variant == 0)
        jw_off = vial & (waste > 0) & (variant == 1)
        no_jw = vial & (waste > 0) & (variant == 2)
        no_jz = vial & (waste == 0)
        has_jw = (waste > 0) & ~jz_for_waste & ~no_jw
        admin_jz = ((waste == 0) & ~no_jz) | jz_for_waste
        jw_units = waste + np.where(jw_off, rng.integers(1, 6, total), 0)

        claim = pc.binary_join_element_wise(_text("C", member[adm_member], 9), _text("", k, 2), "")
        m_id = _text("M", member, 9)
        lines = _Lines([])
        common = dict(
            member_id=m_id.take(pa.array(adm_member)),
            service_date=_days(day),
            dx1=adm_dx,
            dx2=adm_dx2,
            dx3=pa.nulls(total, pa.string()),
            dx4=pa.nulls(total, pa.string()),
            rendering_npi=_text("", rendering[adm_member], 10),
            billing_npi=_text("", billing[adm_member], 10),
            place_of_service=pos[adm_member],
            member=member[adm_member],
        )
        lines.add(
            claim_id=claim,
            line_number=np.ones(total, int),
            hcpcs=np.full(total, w.plan.hcpcs),
            modifiers=_or_none(admin_jz, "JZ"),
            units=units,
            paid_amount=_money(units),
            order=k * 4,
            **common,
        )
        jw = np.flatnonzero(has_jw)
        lines.add(
            claim_id=claim.take(pa.array(jw)),
            line_number=np.full(len(jw), 2),
            hcpcs=np.full(len(jw), w.plan.hcpcs),
            modifiers=np.full(len(jw), "JW"),
            units=jw_units[jw],
            paid_amount=_money(jw_units[jw]),
            order=k[jw] * 4 + 1,
            **{n: _take(v, jw) for n, v in common.items()},
        )

        self._flag(claim, np.flatnonzero(bad_dx), 1, "diagnosis_supports_indication", "diagnosis")
        self._flag(
            claim, np.flatnonzero(bad_dx & has_jw), 2, "diagnosis_supports_indication", "diagnosis"
        )
        self._flag(claim, np.flatnonzero(over), 1, "units_within_dose_limit", "dose")
        self._flag(
            claim, np.flatnonzero(jz_for_waste | no_jw | no_jz), 1, "jw_jz_matches_vials", "vials"
        )
        self._flag(claim, np.flatnonzero(jw_off), 2, "jw_jz_matches_vials", "vials")
        self._flag(claim, np.flatnonzero(short), 1, "dosing_interval", "interval")
        uncovered = last & self._is("no_authorization")[adm_member]
        self._flag(claim, np.flatnonzero(uncovered), 1, "authorization_on_file", "no_authorization")
        exceeded = last & self._is("units_exceeded")[adm_member]
        self._flag(
            claim, np.flatnonzero(exceeded), 1, "authorized_units_not_exceeded", "units_exceeded"
        )
        other_auth = self._is("look_alike_authorization")[adm_member]
        self._flag(
            claim,
            np.flatnonzero(other_auth),
            1,
            "authorization_on_file",
            "look_alike_authorization",
        )
        self._flag(
            claim, np.flatnonzero(other_auth), 1, "look_alike_product", "look_alike_authorization"
        )
        self._flag(
            claim,
            np.flatnonzero(other_auth & has_jw),
            2,
            "look_alike_product",
            "look_alike_authorization",
        )

        # a look-alike product billed on its own claim a few days after the last administration
        extra = np.flatnonzero(last & self._is("look_alike_line")[adm_member])
        extra_claim = _text("L", member[adm_member][extra], 9)
        extra_units = np.full(len(extra), 300)
        lines.add(
            claim_id=extra_claim,
            line_number=np.ones(len(extra), int),
            hcpcs=w.others[rng.integers(0, len(w.others), len(extra))],
            modifiers=np.full(len(extra), None),
            units=extra_units,
            paid_amount=_money(extra_units),
            order=k[extra] * 4 + 2,
            **{
                **{n: _take(v, extra) for n, v in common.items()},
                "service_date": _days(day[extra] + rng.integers(1, 6, len(extra))),
            },
        )
        self.truth.append(
            (extra_claim, np.ones(len(extra), int), "look_alike_product", "look_alike_line")
        )

        # the last administration's first line billed again, on another claim
        dup = np.flatnonzero(last & self._is("duplicate")[adm_member])
        dup_claim = pc.binary_join_element_wise(claim.take(pa.array(dup)), "D", "")
        lines.add(
            claim_id=dup_claim,
            line_number=np.ones(len(dup), int),
            hcpcs=np.full(len(dup), w.plan.hcpcs),
            modifiers=_or_none(admin_jz[dup], "JZ"),
            units=units[dup],
            paid_amount=_money(units[dup]),
            order=k[dup] * 4 + 3,
            **{n: _take(v, dup) for n, v in common.items()},
        )
        self.truth.append((dup_claim, np.ones(len(dup), int), "duplicate_line", "duplicate"))

        claims = lines.table()
        auths = self._authorizations(member, start, planned, n_adm, day, units, adm_member, last)
        weights = np.flatnonzero(has_weight)
        members = pa.table(
            {
                "member_id": m_id.take(pa.array(weights)),
                "weight_kg": pa.array(
                    [Decimal(int(t)) / 10 for t in weight_t[weights]], pa.decimal128(9, 3)
                ),
            }
        )
        truth = pa.concat_tables(
            pa.table(
                {
                    "claim_id": c,
                    "line_number": pa.array(n, pa.int64()),
                    "check": pa.array([chk] * len(n), pa.string()),
                    "injected": pa.array([why] * len(n), pa.string()),
                }
            )
            for c, n, chk, why in self.truth
        )
        counts = {name: int(self._is(name).sum()) for name in INJECTIONS}
        line_member = claims.column("member").to_numpy()
        claims = claims.drop_columns(["member", "order"])
        return _Chunk(
            size, claims, auths, members, truth, counts, line_member, self.kind, self.first
        )

    def _flag(self, claim: pa.Array, where: np.ndarray, line: int, check: str, why: str) -> None:
        self.truth.append(
            (claim.take(pa.array(where, pa.int64())), np.full(len(where), line), check, why)
        )

    def _authorizations(
        self,
        member: np.ndarray,
        start: np.ndarray,
        planned: np.ndarray,
        n_adm: np.ndarray,
        day: np.ndarray,
        units: np.ndarray,
        adm_member: np.ndarray,
        last: np.ndarray,
    ) -> pa.Table:
        w, rng = self.w, self.rng
        ends = {
            int(s): (add_months(_EPOCH + timedelta(int(s)), 6) - _EPOCH).days - 1
            for s in np.unique(start)
        }
        end = np.array([ends[int(s)] for s in start])
        last_day = day[last]  # one per member, in member order
        end = np.where(self._is("no_authorization"), last_day - 1, end)
        administrations = (end - start) // w.min_days + 1
        total = planned * administrations
        used = np.bincount(adm_member, weights=units, minlength=self.size).astype(np.int64)
        total = np.where(self._is("units_exceeded"), used - 1, total)
        hcpcs = np.where(
            self._is("look_alike_authorization"),
            w.others[rng.integers(0, len(w.others), self.size)],
            w.plan.hcpcs,
        )
        return pa.table(
            {
                "authorization_id": _text("A", member, 9),
                "member_id": _text("M", member, 9),
                "hcpcs": hcpcs,
                "period_start": _days(start),
                "period_end": _days(end),
                "units_per_administration": pa.array(planned, pa.int64()),
                "total_units": pa.array(total, pa.int64()),
            }
        )


def _take(values: Any, where: np.ndarray) -> Any:
    if isinstance(values, pa.Array):
        return values.take(pa.array(where, pa.int64()))
    return values[where]


def _money(units: np.ndarray) -> pa.Array:
    cents = pc.utf8_lpad(
        pc.cast(pa.array(units.astype(np.int64) * _PRICE_CENTS_PER_UNIT), pa.string()), 3, "0"
    )
    dollars = pc.utf8_slice_codeunits(cents, 0, -2)
    text = pc.binary_join_element_wise(dollars, pc.utf8_slice_codeunits(cents, -2), ".")
    return pc.cast(text, pa.decimal128(12, 2))


def _or_none(mask: np.ndarray, value: str) -> np.ndarray:
    """``value`` where ``mask`` holds, else None (an object array)."""
    out = np.full(len(mask), None, dtype=object)
    out[mask] = value
    return out


def _ceil_div(a: np.ndarray, b: int) -> np.ndarray:
    return np.asarray(-(-a // b))


def _limit(plan: p.AuditPlan) -> Decimal:
    check = next(c for c in plan.checks if isinstance(c, p.DoseLimit))
    return check.max_mg_per_kg / check.mg_per_unit

"""The engines that run a compiled audit: DuckDB on one machine (out of core, every core) and
PySpark on a cluster. Each registers the inputs as the relations the SQL reads, runs the steps in
order (a table or a view each), and hands the results back as Arrow."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from medpolicy.batch.compile import Step
from medpolicy.batch.layout import CLAIM_LINES, SQL_TYPES
from medpolicy.batch.sources import ClaimFile

__all__ = ["DuckDBEngine", "Engine", "SparkEngine", "open_engine"]


class Engine(Protocol):
    name: str

    def register(self, name: str, table: pa.Table) -> None: ...

    def register_claims(self, files: list[ClaimFile], typed: frozenset[str]) -> None: ...

    def run(self, step: Step) -> None: ...

    def column_values(self, relation: str, column: str) -> list[Any]: ...

    def drop(self, relation: str) -> None: ...

    def fetch(self, relation: str) -> pa.Table: ...

    def batches(self, relation: str) -> Iterator[pa.RecordBatch]: ...

    def close(self) -> None: ...


def _sql_type(column: str, typed: frozenset[str], text: str) -> str:
    """The type a claim column is read as: its own when every file holds it typed, else text."""
    if column in typed:
        return SQL_TYPES[CLAIM_LINES.column(column).kind]
    return text


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class DuckDBEngine:
    name = "duckdb"

    def __init__(
        self, work: Path, threads: int | None = None, memory_limit: str | None = None
    ) -> None:
        import duckdb

        self._duckdb = duckdb
        self.con = duckdb.connect(config={"temp_directory": str(work / "duckdb.tmp")})
        self.con.execute("SET preserve_insertion_order = false")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        if memory_limit:
            self.con.execute(f"SET memory_limit = {_quote(memory_limit)}")

    def register(self, name: str, table: pa.Table) -> None:
        self.con.register(f"{name}_arrow", table)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")
        self.con.unregister(f"{name}_arrow")

    def register_claims(self, files: list[ClaimFile], typed: frozenset[str]) -> None:
        selects = []
        for f in files:
            read = {c: c if c in f.columns else "NULL" for c in CLAIM_LINES.names}
            cols = ", ".join(
                f"CAST({read[c]} AS {_sql_type(c, typed, 'VARCHAR')}) AS {c}"
                for c in CLAIM_LINES.names
            )
            row = "source_row" if f.numbered else "file_row_number + 1"
            options = "" if f.numbered else ", file_row_number = true"
            selects.append(
                f"SELECT {cols}, {_quote(f.source)} AS source_file, "
                f"CAST({row} AS BIGINT) AS source_row "
                f"FROM read_parquet({_quote(str(f.parquet))}{options})"
            )
        if not selects:  # nothing readable: an empty source, so the audit still reports
            cols = ", ".join(f"CAST(NULL AS VARCHAR) AS {c}" for c in CLAIM_LINES.names)
            selects.append(
                f"SELECT {cols}, CAST(NULL AS VARCHAR) AS source_file, "
                "CAST(NULL AS BIGINT) AS source_row WHERE FALSE"
            )
        self.con.execute("CREATE OR REPLACE TEMP VIEW claims_all AS " + " UNION ALL ".join(selects))
        self.con.execute("CREATE OR REPLACE TEMP VIEW claims_source AS SELECT * FROM claims_all")

    # -- passes over groups of members ---------------------------------------------------------
    # Every check reads one member's lines only (duplicates, intervals, authorizations, weights,
    # look-alikes are all per member), so a large input is audited a group of members at a time:
    # each pass sorts and joins a fraction of the lines, and peak memory follows the pass, not
    # the input. A member's group is the hash of the id as the checks read it (trimmed).

    def restrict(self, group: int, groups: int) -> None:
        """``claims_source`` becomes the lines of the members in ``group`` of ``groups``."""
        self.con.execute(
            "CREATE OR REPLACE TEMP VIEW claims_source AS SELECT * FROM claims_all "
            "WHERE HASH(COALESCE(NULLIF(TRIM(CAST(member_id AS VARCHAR)), ''), '')) "
            f"% {int(groups)} = {int(group)}"
        )

    def keep(self, relations: tuple[str, ...]) -> None:
        """Add this pass's rows of each relation to its ``<name>_kept`` table."""
        for name in relations:
            exists = self.con.execute(
                "SELECT COUNT(*) FROM duckdb_tables() WHERE table_name = ?", [f"{name}_kept"]
            ).fetchone()
            if exists and exists[0]:
                self.con.execute(f"INSERT INTO {name}_kept SELECT * FROM {name}")
            else:
                self.con.execute(f"CREATE TEMP TABLE {name}_kept AS SELECT * FROM {name}")

    def use_kept(self, relations: tuple[str, ...]) -> None:
        """Each relation is now every pass's rows; ``claims_source`` every line again."""
        for name in relations:
            self.con.execute(f"DROP TABLE IF EXISTS {name}")
            self.con.execute(f"CREATE TEMP VIEW {name} AS SELECT * FROM {name}_kept")
        self.con.execute("CREATE OR REPLACE TEMP VIEW claims_source AS SELECT * FROM claims_all")

    def run(self, step: Step) -> None:
        kind = "TABLE" if step.materialize else "VIEW"
        self.con.execute(f"CREATE OR REPLACE TEMP {kind} {step.name} AS {step.sql}")

    def drop(self, relation: str) -> None:
        self.con.execute(f"DROP TABLE IF EXISTS {relation}")

    def column_values(self, relation: str, column: str) -> list[Any]:
        return [
            r[0] for r in self.con.execute(f"SELECT DISTINCT {column} FROM {relation}").fetchall()
        ]

    def fetch(self, relation: str) -> pa.Table:
        return self.con.sql(f"SELECT * FROM {relation}").to_arrow_table()

    def batches(self, relation: str) -> Iterator[pa.RecordBatch]:
        reader = self.con.sql(f"SELECT * FROM {relation}").to_arrow_reader(1 << 17)
        yield from reader

    def close(self) -> None:
        self.con.close()


class SparkEngine:
    name = "spark"

    def __init__(self, master: str = "local[*]", work: Path | None = None) -> None:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ.setdefault("PYSPARK_PYTHON", os.environ.get("PYSPARK_PYTHON", "python3"))
        from pyspark import StorageLevel
        from pyspark.sql import SparkSession

        self._level = StorageLevel.MEMORY_AND_DISK
        builder = (
            SparkSession.builder.master(master)
            .appName("medpolicy-claims-audit")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "8" if master.startswith("local") else "200")
            .config("spark.driver.memory", os.environ.get("MEDPOLICY_SPARK_DRIVER_MEMORY", "4g"))
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        )
        if work is not None:
            builder = builder.config("spark.local.dir", str(work / "spark.tmp"))
        self.spark = builder.getOrCreate()
        self.spark.sparkContext.setLogLevel("ERROR")
        self._cached: list[Any] = []

    def register(self, name: str, table: pa.Table) -> None:
        frame = self.spark.createDataFrame(table)
        frame.createOrReplaceTempView(name)

    def register_claims(self, files: list[ClaimFile], typed: frozenset[str]) -> None:
        from functools import reduce

        frames = []
        for f in files:
            frame = self.spark.read.parquet(str(f.parquet))
            cols = [
                f"CAST({c if c in f.columns else 'NULL'} AS {_sql_type(c, typed, 'STRING')}) AS {c}"
                for c in CLAIM_LINES.names
            ]
            row = "source_row" if f.numbered else "_metadata.row_index + 1"
            frames.append(
                frame.selectExpr(
                    *cols,
                    f"{_quote(f.source)} AS source_file",
                    f"CAST({row} AS BIGINT) AS source_row",
                )
            )
        if frames:
            reduce(lambda a, b: a.unionAll(b), frames).createOrReplaceTempView("claims_source")
        else:
            nulls = ", ".join(f"CAST(NULL AS STRING) AS {c}" for c in CLAIM_LINES.names)
            self.spark.sql(
                f"SELECT {nulls}, CAST(NULL AS STRING) AS source_file, "
                "CAST(NULL AS BIGINT) AS source_row WHERE FALSE"
            ).createOrReplaceTempView("claims_source")

    def run(self, step: Step) -> None:
        frame = self.spark.sql(step.sql)
        if step.materialize:
            frame = frame.persist(self._level)
            frame.count()
            self._cached.append(frame)
        frame.createOrReplaceTempView(step.name)

    def drop(self, relation: str) -> None:
        """Kept: Spark unpersists when the session ends, and a view over it may still be read."""

    def column_values(self, relation: str, column: str) -> list[Any]:
        return [r[0] for r in self.spark.sql(f"SELECT DISTINCT {column} FROM {relation}").collect()]

    def fetch(self, relation: str) -> pa.Table:
        table: pa.Table = self.spark.sql(f"SELECT * FROM {relation}").toArrow()
        return table

    def batches(self, relation: str) -> Iterator[pa.RecordBatch]:
        yield from self.fetch(relation).to_batches()

    def close(self) -> None:
        for frame in self._cached:
            frame.unpersist()
        self.spark.stop()


def open_engine(
    name: str, work: Path, master: str | None = None, memory_limit: str | None = None
) -> Engine:
    """``memory_limit`` (DuckDB, e.g. "4GB"): past it, DuckDB spills to disk under ``work``."""
    if name == "duckdb":
        return DuckDBEngine(work, memory_limit=memory_limit)
    if name == "spark":
        return SparkEngine(master or "local[*]", work)
    raise ValueError(f"unknown engine {name!r} (duckdb or spark)")

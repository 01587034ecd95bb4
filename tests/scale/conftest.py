"""One local Spark session for the whole test run, tuned to start and answer fast.

Every Spark test carries ``xdist_group("spark")``, so with ``pytest -n 2 --dist loadgroup`` they
all run on one worker and only one JVM starts. Without pyspark or Java the Spark tests skip on a
developer's machine, but fail under CI (``CI`` set): there a skip would hide a broken set-up.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

#: Spark 4.0 runs on Java 17 and 21 only; a newer default `java` must not be picked up.
SUPPORTED_JAVA = ("17", "21")

#: Small and quick: one task thread, one shuffle partition, no UI, no adaptive re-planning
#: (which costs more than it saves on tables this small), a JVM tuned for a short life.
SPARK_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.memory": "1g",
    "spark.driver.extraJavaOptions": "-XX:+UseSerialGC -XX:TieredStopAtLevel=1",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "1",
    "spark.default.parallelism": "1",
    "spark.sql.adaptive.enabled": "false",
    # Interpreted operators: compiling Java for each tiny query costs more than it saves.
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # Catalyst's constraint propagation exhausts the driver heap on validation's plan (30 OR-ed
    # rule flags carried through the duplicate-key joins); see docs/scaling.md.
    "spark.sql.constraintPropagation.enabled": "false",
}


def java_home() -> str | None:
    """A JAVA_HOME for Spark: the one set, else a Java 17 or 21 under /usr/lib/jvm, else None."""
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    for version in SUPPORTED_JAVA:
        for home in sorted(Path("/usr/lib/jvm").glob(f"java-{version}-openjdk-*")):
            if (home / "bin" / "java").exists():
                return str(home)
    java = shutil.which("java")
    return str(Path(java).resolve().parent.parent) if java else None


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}: CI must run the Spark parity suite (make test installs both)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """An Ibis connection to a local Spark session (``local[1]``), shared by every Spark test."""
    if importlib.util.find_spec("pyspark") is None:
        _unavailable("pyspark is not installed (the `spark` extra)")
    home = java_home()
    if home is None:
        _unavailable("Spark needs Java 17 (scripts/system-deps.sh installs it)")
    os.environ["JAVA_HOME"] = str(home)

    import ibis
    from pyspark.sql import SparkSession

    scratch = tmp_path_factory.mktemp("spark")
    builder = SparkSession.builder.master("local[1]").appName("impact-parity")
    conf = {
        **SPARK_CONF,
        "spark.local.dir": str(scratch / "local"),
        "spark.sql.warehouse.dir": str(scratch / "warehouse"),
    }
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield ibis.pyspark.connect(session)
    finally:
        session.stop()

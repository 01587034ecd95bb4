"""scripts/audit.sh: how it reads pip-audit's answer, and that `make test` runs it as a report.

A stand-in ``pip_audit`` package, first on PYTHONPATH, prints a canned JSON report, so each
verdict (vulnerable, clean, nothing audited) is checked without the network.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "audit.sh"

VULNERABLE = [
    {
        "name": "jinja2",
        "version": "3.1.2",
        "vulns": [{"id": "GHSA-h5c8", "fix_versions": ["3.1.3"]}],
    },
    {"name": "numpy", "version": "2.2.0", "vulns": []},
]
CLEAN = [{"name": "numpy", "version": "2.2.0", "vulns": []}]
UNREACHABLE = [
    {"name": "numpy", "skip_reason": "Dependency not found on PyPI and could not be audited"}
]


def audit(tmp_path: Path, dependencies: Any) -> subprocess.CompletedProcess[str]:
    fake = tmp_path / "pip_audit"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    report = json.dumps({"dependencies": dependencies}) if dependencies is not None else "oops"
    (fake / "__main__.py").write_text(
        "import sys\n"
        "if '--version' in sys.argv:\n"
        "    print('pip-audit 0 (stand-in)')\n"
        "    sys.exit(0)\n"
        f"print({report!r})\n"
        "sys.exit(1)\n"  # pip-audit exits 1 whenever it prints a report with findings
    )
    env = os.environ | {"PYTHONPATH": str(tmp_path), "PYTHON": str(ROOT / ".venv/bin/python")}
    return subprocess.run(
        ["bash", str(SCRIPT)], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_a_known_vulnerability_fails_and_is_named(tmp_path: Path) -> None:
    done = audit(tmp_path, VULNERABLE)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "2 package(s) audited" in done.stdout
    assert "jinja2 3.1.2: GHSA-h5c8 (fixed in: 3.1.3)" in done.stdout


def test_a_clean_audit_passes(tmp_path: Path) -> None:
    done = audit(tmp_path, CLEAN)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No known vulnerabilities found" in done.stdout


@pytest.mark.parametrize("dependencies", [UNREACHABLE, None], ids=["all-skipped", "no-report"])
def test_offline_is_not_a_clean_result_and_does_not_fail(tmp_path: Path, dependencies: Any) -> None:
    done = audit(tmp_path, dependencies)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "NOTHING WAS AUDITED" in done.stdout
    assert "No known vulnerabilities" not in done.stdout


def test_make_test_runs_the_audit_as_a_report_and_make_audit_enforces_it() -> None:
    makefile = (ROOT / "Makefile").read_text()
    test = re.search(r"^test:.*\n((?:\t.*\n)+)", makefile, flags=re.M)
    audit_target = re.search(r"^audit:.*\n((?:\t.*\n)+)", makefile, flags=re.M)
    assert test and audit_target
    # A leading "-" makes make carry on: the audit reports, the test suite decides.
    assert "\t-bash scripts/audit.sh\n" in test.group(1)
    assert "\tbash scripts/audit.sh\n" in audit_target.group(1)
    assert "make test" in (ROOT / ".ci" / "run").read_text()

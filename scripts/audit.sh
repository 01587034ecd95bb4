#!/usr/bin/env bash
# Audit the installed dependencies for known vulnerabilities with pip-audit (PyPA).
#
# Usage: scripts/audit.sh            (uses .venv/bin/python; PYTHON=... to override)
#
# Exit codes: 0 = no known vulnerability, or the advisory database could not be reached (then a
# WARNING says clearly that nothing was audited); 1 = vulnerabilities found; 2 = pip-audit is
# not installed. pip-audit needs network access to PyPI's JSON API (or OSV); offline, it cannot
# audit anything and says "Dependency not found on PyPI" for every package, which this script
# reports as NOT AUDITED rather than as a clean result.
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
if ! "$PYTHON" -m pip_audit --version >/dev/null 2>&1; then
  echo "error: pip-audit is not installed in $PYTHON's environment." >&2
  echo "       install it: .venv/bin/uv pip install --python $PYTHON pip-audit" >&2
  exit 2
fi
report="$(mktemp)"
errors="$(mktemp)"
trap 'rm -f "$report" "$errors"' EXIT
# --local: this environment's packages only; --skip-editable: impact itself is not on PyPI.
"$PYTHON" -m pip_audit --local --skip-editable --progress-spinner off --format json \
  >"$report" 2>"$errors"
status=$?
"$PYTHON" - "$report" "$errors" "$status" <<'PY'
import json
import sys

report, errors, status = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    with open(report, encoding="utf-8") as handle:
        deps = json.load(handle)["dependencies"]
except (OSError, ValueError, KeyError):
    tail = open(errors, encoding="utf-8", errors="replace").read().strip().splitlines()[-3:]
    print("WARNING: pip-audit could not run against the advisory database (no network?):")
    print("  " + "\n  ".join(tail or [f"exit status {status}"]))
    print("WARNING: NOTHING WAS AUDITED. Run scripts/audit.sh where PyPI is reachable.")
    sys.exit(0)
skipped = [d for d in deps if d.get("skip_reason")]
audited = [d for d in deps if not d.get("skip_reason")]
vulnerable = [d for d in audited if d.get("vulns")]
if not audited:
    print(f"WARNING: none of the {len(deps)} installed packages could be audited:")
    print(f"  {skipped[0]['skip_reason'] if skipped else 'no packages found'}")
    print("WARNING: PyPI's vulnerability data is unreachable from here (offline, or a mirror")
    print("         without the JSON API). NOTHING WAS AUDITED; this is not a clean result.")
    sys.exit(0)
print(f"pip-audit: {len(audited)} package(s) audited, {len(skipped)} skipped")
for dep in skipped:
    print(f"  skipped {dep['name']}: {dep['skip_reason']}")
if not vulnerable:
    print("No known vulnerabilities found in the audited packages.")
    sys.exit(0)
print(f"{sum(len(d['vulns']) for d in vulnerable)} known vulnerabilit(y/ies):")
for dep in vulnerable:
    for vuln in dep["vulns"]:
        fixed = ", ".join(vuln.get("fix_versions") or []) or "no fix yet"
        print(f"  {dep['name']} {dep['version']}: {vuln['id']} (fixed in: {fixed})")
sys.exit(1)
PY

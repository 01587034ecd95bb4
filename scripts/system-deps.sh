#!/usr/bin/env bash
# Installs the Debian packages that some test suites need. Idempotent; skips what is present.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
# Spark 4.0 (the `spark` extra) runs on Java 17 or 21 only; another default `java` (e.g. 25)
# does not count. tests/scale/conftest.py points JAVA_HOME at the one found here.
compgen -G "/usr/lib/jvm/java-17-openjdk-*/bin/java" >/dev/null ||
  compgen -G "/usr/lib/jvm/java-21-openjdk-*/bin/java" >/dev/null || need+=(java)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi
$SUDO apt-get update -qq
if [[ " ${need[*]} " == *" java "* ]]; then
  # Debian 12 ships OpenJDK 17; Debian 13 only 21 (also supported by Spark 4.0).
  jre=openjdk-17-jre-headless
  apt-cache show "$jre" >/dev/null 2>&1 || jre=openjdk-21-jre-headless
  need=("${need[@]/java/$jre}")
fi
echo "installing system packages: ${need[*]}"
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

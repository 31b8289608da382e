#!/usr/bin/env bash
# WeasyPrint (print templates, PDF proofs) needs Pango and HarfBuzz from the system, and the browser
# tests drive Debian's chromium. Installs them
# with apt when they are missing and we may (root, or sudo without a password); otherwise says
# what to install. Called by `make install`.
set -euo pipefail
needed=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core chromium)
missing=()
for package in "${needed[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "Relais needs Pango and HarfBuzz for PDF rendering: install ${missing[*]} (or your system's equivalent)." >&2
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; else
  echo "Relais needs these system packages for PDF rendering: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "Installing system packages (PDF rendering, browser tests): ${missing[*]}"
$sudo apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || { $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q "${missing[@]}" >/dev/null; }

#!/usr/bin/env bash
# System packages that pip cannot give: a CJK font for PDF documents (Chinese names) and, for the
# browser tests, Debian's chromium (Playwright's own browser download does not work everywhere).
#   bash scripts/system-deps.sh fonts      # what the demo needs
#   bash scripts/system-deps.sh browser    # fonts + chromium, what the tests need
# Installs with apt-get as root, or through `sudo -n`; already installed packages are skipped.
# Without either it says what to install and exits 0: the PDF and browser tests then skip with
# that reason (SALESFLOW_REQUIRE_BROWSER=1, as in CI, makes the browser test fail instead).
set -euo pipefail
want=(fonts-wqy-zenhei)
if [ "${1:-fonts}" = browser ]; then
  want+=(chromium)
fi
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "salesflow: please install with your package manager: ${missing[*]} (a CJK TrueType font${want[1]:+, Chromium})"
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then SUDO=(); elif sudo -n true 2>/dev/null; then SUDO=(sudo -n); else
  echo "salesflow: run as root to install: apt-get install ${missing[*]}"
  exit 0
fi
echo "salesflow: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
  || { "${SUDO[@]}" apt-get update -qq >/dev/null && \
       "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }

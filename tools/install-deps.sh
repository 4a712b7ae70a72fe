#!/usr/bin/env bash
# install-deps.sh — install everything Umbra needs on a Debian 12 machine.
#
# Why this shape: QEMU >= 10.0 (for the RISC-V IOMMU model) and OpenSBI >= 1.5
# only exist in Debian 12's backports suite.  We enable that suite by reusing
# the mirror URI the machine's apt sources already use, so no host name is ever
# written into the repository.  Idempotent: it does nothing (and prints nothing)
# when every tool is already present at the right version.
set -euo pipefail

QUIET=${QUIET:-1}
say() { [ "$QUIET" = 1 ] || echo "install-deps: $*"; }
die() { echo "install-deps: error: $*" >&2; exit 1; }

# version_at_least HAVE WANT: true when dotted version HAVE >= WANT.
version_at_least() {
    [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

qemu_ok() {
    command -v qemu-system-riscv64 >/dev/null 2>&1 || return 1
    local v
    v=$(qemu-system-riscv64 --version | sed -n 's/.*version \([0-9.]*\).*/\1/p' | head -n1)
    version_at_least "${v:-0}" 10.0
}

opensbi_ok() {
    local v
    v=$(dpkg-query -W -f='${Version}' opensbi 2>/dev/null) || return 1
    version_at_least "${v%%-*}" 1.5 && [ -f /usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin ]
}

# Tools from bookworm itself: command -> package.
BASE_TOOLS="riscv64-unknown-elf-gcc:gcc-riscv64-unknown-elf
riscv64-unknown-elf-objcopy:binutils-riscv64-unknown-elf
dtc:device-tree-compiler
gdb-multiarch:gdb-multiarch
python3:python3
gcc:gcc
make:make
timeout:coreutils
gnuplot:gnuplot-nox
riscv64-linux-gnu-gcc:gcc-riscv64-linux-gnu
bc:bc
flex:flex
bison:bison
xz:xz-utils
dot:graphviz"

# Files without a command of their own: file -> package.  The Linux guest
# (make linux) needs the kernel source, the cross glibc for its static /init
# (only recommended by the cross gcc, and we skip recommends) and the host
# libc headers for the kernel's build tools.
BASE_FILES="/usr/src/linux-source-6.1.tar.xz:linux-source-6.1
/usr/riscv64-linux-gnu/lib/libc.a:libc6-dev-riscv64-cross
/usr/include/stdio.h:libc6-dev"

missing_base_packages() {
    local line cmd pkg file
    while IFS= read -r line; do
        cmd=${line%%:*}; pkg=${line#*:}
        command -v "$cmd" >/dev/null 2>&1 || echo "$pkg"
    done <<< "$BASE_TOOLS"
    while IFS= read -r line; do
        file=${line%%:*}; pkg=${line#*:}
        [ -e "$file" ] || echo "$pkg"
    done <<< "$BASE_FILES"
}

# The URI of the machine's main Debian archive (not the security archive),
# from either deb822 .sources files or classic one-line sources.list files.
debian_mirror_uri() {
    local codename=$1 f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v cn="$codename" '
            /^[[:space:]]*$/ { if (uri != "" && suites ~ "(^| )" cn "( |$)") { print uri; exit } uri=""; suites=""; next }
            /^URIs:/   { uri=$2 }
            /^Suites:/ { $1=""; suites=$0; sub(/^ /, "", suites) }
            END { if (uri != "" && suites ~ "(^| )" cn "( |$)") print uri }
        ' "$f" | head -n1
    done | head -n1
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v cn="$codename" '$1 == "deb" && $0 !~ /security/ {
            for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { if ($(i+1) == cn) { print $i; exit } }
        }' "$f"
    done | head -n1
}

enable_backports() {
    local codename uri list=/etc/apt/sources.list.d/umbra-backports.sources
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    [ -n "$codename" ] || die "cannot read the distribution codename from /etc/os-release"
    if grep -rqs -- "${codename}-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
        return 0
    fi
    uri=$(debian_mirror_uri "$codename" | head -n1)
    [ -n "$uri" ] || die "no Debian mirror for '$codename' found in /etc/apt/sources.list*"
    say "enabling ${codename}-backports from $uri"
    printf 'Types: deb\nURIs: %s\nSuites: %s-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$uri" "$codename" > "$list"
    BACKPORTS_ADDED=1
}

main() {
    local base need_bp=0 sudo=""
    base=$(missing_base_packages | sort -u | tr '\n' ' ')
    qemu_ok || need_bp=1
    opensbi_ok || need_bp=1
    if [ -z "${base// /}" ] && [ $need_bp = 0 ]; then
        return 0
    fi
    [ "$(id -u)" = 0 ] || sudo=sudo
    export DEBIAN_FRONTEND=noninteractive
    BACKPORTS_ADDED=0
    if [ $need_bp = 1 ]; then
        if [ -n "$sudo" ]; then $sudo "$0" "$@"; return; fi
        enable_backports
    fi
    echo "install-deps: installing: ${base}$([ $need_bp = 1 ] && echo 'qemu-system-riscv opensbi (backports)')"
    $sudo apt-get update -qq
    # shellcheck disable=SC2086
    [ -z "${base// /}" ] || $sudo apt-get install -y -qq --no-install-recommends $base >/dev/null
    if [ $need_bp = 1 ]; then
        local codename
        codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
        $sudo apt-get install -y -qq --no-install-recommends -t "${codename}-backports" \
            qemu-system-riscv opensbi >/dev/null
    fi
    qemu_ok || die "qemu-system-riscv64 >= 10.0 is still missing after installing"
    opensbi_ok || die "opensbi >= 1.5 is still missing after installing"
    echo "install-deps: done"
}

main "$@"

#!/usr/bin/env bash
# build.sh — builds the riscv64 Linux guest (called by guests/linux/linux.mk).
#
#   build.sh kernel OUT      OUT/Image from Debian's linux-source-6.1
#   build.sh initramfs OUT   OUT/init and OUT/initramfs.cpio
#
# The kernel tree is extracted once into OUT/src and built out of tree in
# OUT/obj, so later builds are incremental.  The configuration is regenerated
# only when guests/linux/umbra.config changes (its hash is kept in OUT/obj);
# the source is extracted again only when the tarball changes.  The kernel's
# own output goes to OUT/kernel-build.log, shown only on failure.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TARBALL=${LINUX_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
FRAGMENT=$HERE/umbra.config
CROSS=${LINUX_CROSS:-riscv64-linux-gnu-}
JOBS=${LINUX_JOBS:-$(nproc)}

die() { echo "linux: error: $*" >&2; exit 1; }

# The top-level make's flags and command-line variables must not leak into
# the kernel's own make (they would, through MAKEFLAGS).
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES GNUMAKEFLAGS

# Identity of the tarball: re-extract when the package is upgraded.
tarball_identity() {
    stat -c '%n %s %Y' "$TARBALL"
}

extract_source() {
    local src=$1
    [ -f "$TARBALL" ] || die "$TARBALL missing (apt-get install linux-source-6.1)"
    if [ -f "$src/.umbra-source" ] && [ "$(cat "$src/.umbra-source")" = "$(tarball_identity)" ]; then
        return 0
    fi
    echo "linux: extracting $TARBALL"
    rm -rf "$src" "$OUT/obj"
    mkdir -p "$src"
    tar -xJf "$TARBALL" -C "$src" --strip-components=1
    tarball_identity > "$src/.umbra-source"
}

kmake() {
    make -C "$OUT/src" O="$OUT/obj" ARCH=riscv CROSS_COMPILE="$CROSS" "$@"
}

# Every CONFIG_X=value line of the fragment must be in the final .config:
# a symbol that allnoconfig could not set (a missing dependency, a renamed
# option) would otherwise be dropped silently.
check_config() {
    local line missing=0
    while IFS= read -r line; do
        case $line in CONFIG_*=*) ;; *) continue ;; esac
        if ! grep -qxF -- "$line" "$OUT/obj/.config"; then
            echo "linux: $line did not stick in the kernel configuration" >&2
            missing=1
        fi
    done < "$FRAGMENT"
    [ $missing = 0 ] || die "fix guests/linux/umbra.config"
}

configure_kernel() {
    local want have=""
    want=$(sha256sum < "$FRAGMENT" | cut -d' ' -f1)
    [ -f "$OUT/obj/.umbra-config" ] && have=$(cat "$OUT/obj/.umbra-config")
    [ -f "$OUT/obj/.config" ] && [ "$want" = "$have" ] && return 0
    echo "linux: configuring (allnoconfig + guests/linux/umbra.config)"
    mkdir -p "$OUT/obj"
    kmake KCONFIG_ALLCONFIG="$FRAGMENT" allnoconfig >> "$LOG" 2>&1 || {
        tail -n 30 "$LOG" >&2; die "kernel configuration failed (log: $LOG)"; }
    check_config
    echo "$want" > "$OUT/obj/.umbra-config"
}

build_kernel() {
    local start=$SECONDS
    LOG=$OUT/kernel-build.log
    mkdir -p "$OUT"
    : > "$LOG"
    extract_source "$OUT/src"
    configure_kernel
    echo "linux: building Image with $JOBS jobs (log: $LOG)"
    kmake -j"$JOBS" Image >> "$LOG" 2>&1 || {
        tail -n 40 "$LOG" >&2; die "kernel build failed (log: $LOG)"; }
    cp "$OUT/obj/arch/riscv/boot/Image" "$OUT/Image.tmp"
    mv "$OUT/Image.tmp" "$OUT/Image"
    echo "linux: $OUT/Image ($(stat -c %s "$OUT/Image") bytes) in $((SECONDS - start)) s"
}

# /init is static so the initramfs needs no libraries; -pthread because the
# workloads share one address space across harts.
build_initramfs() {
    local cc=${CROSS}gcc
    mkdir -p "$OUT"
    command -v "$cc" >/dev/null || die "$cc missing (apt-get install gcc-riscv64-linux-gnu)"
    # -I the repository: init.c shares guests/common/gups.h with tinyos.
    "$cc" -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wvla \
        -I "$HERE/../.." -O2 -static -pthread -o "$OUT/init" "$HERE/init.c"
    python3 "$HERE/mkinitramfs.py" "$OUT/init" "$OUT/initramfs.cpio.tmp"
    mv "$OUT/initramfs.cpio.tmp" "$OUT/initramfs.cpio"
}

[ $# = 2 ] || die "usage: build.sh kernel|initramfs OUTDIR"
OUT=$(mkdir -p "$2" && cd "$2" && pwd)
case $1 in
    kernel) build_kernel ;;
    initramfs) build_initramfs ;;
    *) die "unknown step '$1' (want kernel or initramfs)" ;;
esac

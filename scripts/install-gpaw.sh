#!/usr/bin/env bash
# Install the local DFT engine, GPAW, into the project's virtual environment:
#
#   1. libxc, from Debian's source package (the version Debian ships), rebuilt with the
#      Fermi-hole-curvature check disabled (-DDISABLE_FHC=ON; with it on, an r2SCAN MgO slab
#      diverges from the first SCF iteration, see docs/engines.md) into $VENV/opt/libxc;
#   2. GPAW from PyPI, compiled against that libxc (with an rpath to it), Debian's FFTW,
#      OpenBLAS, Open MPI and ScaLAPACK (without it, a run with fewer k-points than MPI ranks
#      stops in GPAW's subspace diagonalisation);
#   3. GPAW's PAW datasets from their PyPI package (gpaw-data; nothing is downloaded at run time).
#
# Idempotent: skips in about a second when GPAW of the wanted version is installed, linked
# against the libxc built here, and this script has not changed since. Needs the Debian
# packages listed below (scripts/setup.sh installs them when root; this script does too). Not
# root and some missing: it prints what to install and exits 0 without GPAW (`pesbench doctor`
# then reports GPAW missing).
#
#   VENV=path        the environment (default: .venv in the checkout)
#   GPAW_FORCE=1     rebuild even when up to date
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
VENV=$(cd "$VENV" && pwd)
PY="$VENV/bin/python"
GPAW_VERSION=26.7.0
GPAW_DATA_VERSION=1.2.1
LIBXC_PACKAGE=libxc # Debian source package (bookworm: 5.2.3)
PREFIX="$VENV/opt/libxc"
DEBIAN_PACKAGES=(build-essential cmake libfftw3-dev libopenblas-dev libopenmpi-dev openmpi-bin
    libscalapack-openmpi-dev)
stamp="$VENV/opt/.pesbench-gpaw"
want=$(cat scripts/install-gpaw.sh scripts/debian.sh | sha256sum | cut -d' ' -f1)

log() { echo "install-gpaw: $*"; }

# --- 0. up to date? -----------------------------------------------------------------------
gpaw_linked_here() {
    # GPAW's extension module resolves libxc to the one built here.
    "$PY" - "$PREFIX" "$GPAW_VERSION" "$GPAW_DATA_VERSION" <<'EOF' 2>/dev/null
import subprocess, sys
from importlib.metadata import version
prefix, gpaw_version, data_version = sys.argv[1:]
assert version("gpaw") == gpaw_version and version("gpaw-data") == data_version
import importlib.util
so = importlib.util.find_spec("_gpaw").origin
ldd = subprocess.run(["ldd", so], capture_output=True, text=True, check=True).stdout
libxc = [line for line in ldd.splitlines() if "libxc.so" in line]
assert libxc and f"{prefix}/lib" in libxc[0], libxc
EOF
}
if [ "${GPAW_FORCE:-0}" != 1 ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && gpaw_linked_here; then
    log "GPAW $GPAW_VERSION (libxc in $PREFIX) is up to date"
    exit 0
fi

# --- 1. Debian packages -------------------------------------------------------------------
. scripts/debian.sh
mapfile -t missing < <(missing_debian_packages "${DEBIAN_PACKAGES[@]}")
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        log "installing Debian packages: ${missing[*]}"
        install_debian_packages "${missing[@]}"
    else
        log "SKIPPED: GPAW needs the Debian packages: ${missing[*]}" >&2
        log "install them (sudo apt-get install ${missing[*]}) and rerun \`make setup\`" >&2
        exit 0
    fi
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/pesbench-gpaw.XXXXXX")
trap 'rm -rf "$work"' EXIT
jobs=$(nproc)

# --- 2. libxc without the Fermi-hole-curvature check --------------------------------------
if [ ! -f "$PREFIX/.pesbench-fhc-disabled" ]; then
    log "downloading Debian's $LIBXC_PACKAGE source"
    # A private sources list with deb-src lines: the system's apt configuration is untouched.
    codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
    mkdir -p "$work/apt/lists/partial" "$work/src"
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    signed=""
    [ -f "$keyring" ] && signed="[signed-by=$keyring] "
    echo "deb-src ${signed}http://deb.debian.org/debian $codename main" > "$work/apt/sources.list"
    apt_opts=(-o "Dir::Etc::SourceList=$work/apt/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
        -o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt/cache")
    # As root apt drops to the _apt user, which cannot write into this private folder.
    [ "$(id -u)" = 0 ] && apt_opts+=(-o APT::Sandbox::User=root)
    apt-get "${apt_opts[@]}" update -qq
    (cd "$work/src" && apt-get "${apt_opts[@]}" source --download-only -qq "$LIBXC_PACKAGE")
    tar -xzf "$work"/src/*.orig.tar.gz -C "$work/src"
    srcdir=$(find "$work/src" -mindepth 1 -maxdepth 1 -type d -name 'libxc-*' | head -1)
    log "building $(basename "$srcdir") with -DDISABLE_FHC=ON into $PREFIX (a few minutes)"
    rm -rf "$PREFIX"
    cmake -S "$srcdir" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$PREFIX" \
        -DCMAKE_INSTALL_LIBDIR=lib -DBUILD_SHARED_LIBS=ON -DDISABLE_FHC=ON -DDISABLE_KXC=ON \
        -DDISABLE_LXC=ON -DENABLE_FORTRAN=OFF -DBUILD_TESTING=OFF >"$work/cmake.log" 2>&1 ||
        { tail -20 "$work/cmake.log" >&2; exit 1; }
    cmake --build "$work/build" -j "$jobs" >"$work/make.log" 2>&1 || { tail -30 "$work/make.log" >&2; exit 1; }
    cmake --install "$work/build" >/dev/null
    grep -q 'DISABLE_FHC:BOOL=ON' "$work/build/CMakeCache.txt"
    echo "$(basename "$srcdir") DISABLE_FHC=ON" > "$PREFIX/.pesbench-fhc-disabled"
fi

# --- 3. GPAW against it, and its PAW datasets ----------------------------------------------
cat > "$work/siteconfig.py" <<EOF
# GPAW build configuration written by pesbench's scripts/install-gpaw.sh
mpi = True
compiler = 'mpic++'
fftw = True
scalapack = True
libraries = ['xc', 'fftw3', 'scalapack-openmpi', 'openblas']
library_dirs = ['$PREFIX/lib', '/usr/lib/x86_64-linux-gnu']
include_dirs = ['$PREFIX/include', '/usr/include']
runtime_library_dirs = ['$PREFIX/lib']
EOF
log "building GPAW $GPAW_VERSION against $PREFIX (about 2 minutes)"
constraints=()
[ -f constraints.txt ] && constraints=(-c constraints.txt)
# this machine's pip configuration may name index folders that do not exist: drop that noise
quiet() { "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; return "${PIPESTATUS[0]}"; }
GPAW_CONFIG="$work/siteconfig.py" quiet "$PY" -m pip --disable-pip-version-check \
    install -q --no-cache-dir --force-reinstall --no-deps --no-binary gpaw "gpaw==$GPAW_VERSION"
quiet "$PY" -m pip --disable-pip-version-check install -q "${constraints[@]}" \
    "gpaw==$GPAW_VERSION" "gpaw-data==$GPAW_DATA_VERSION"
gpaw_linked_here || { log "GPAW does not link the libxc in $PREFIX" >&2; exit 1; }
echo "$want" > "$stamp"
log "done: GPAW $("$PY" -c 'import gpaw; print(gpaw.__version__)') with libxc from $PREFIX"

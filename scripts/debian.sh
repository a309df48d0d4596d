# Sourced by the install scripts: which Debian packages are missing, and installing them.

# Print the packages among "$@" that are not installed, one per line.
missing_debian_packages() {
    local pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || echo "$pkg"
    done
}

# apt-get install "$@" quietly, waiting for apt's lock (needs root).
install_debian_packages() {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq \
        --no-install-recommends "$@" >/dev/null
}

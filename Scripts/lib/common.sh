# Shared helpers for Scripts/*. Source it; it sets ROOT and a few functions.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export PATH="/opt/swift/usr/bin:$PATH"

log() { printf '%s %s\n' "[$(basename "$0")]" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# as_root CMD...: run as root (directly when we are root, else through sudo).
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# free_port: a free TCP port on 127.0.0.1, asked of the kernel (bind to port 0).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# print_header: the script's header comment (what it does and its usage), without the '#'s.
print_header() { awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; }

# help_if_asked "$@": with -h or --help among the arguments, prints the header and exits 0.
help_if_asked() {
    local a
    for a in "$@"; do
        case "$a" in -h|--help) print_header; exit 0 ;; esac
    done
}

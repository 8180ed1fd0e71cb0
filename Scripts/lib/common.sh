# Shared helpers for Scripts/*. Source it; it sets ROOT and a few functions.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export PATH="/opt/swift/usr/bin:$PATH"

log() { printf '%s %s\n' "[$(basename "$0")]" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# as_root CMD...: run as root (directly when we are root, else through sudo).
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# free_ports N: N distinct free TCP ports on 127.0.0.1, asked of the kernel (bind to port 0), on one
# line. All N sockets are held open until every port is known: ports asked for one at a time can
# repeat (the kernel may hand a just-closed port out again), and two servers given the same port
# refuse to start. Use: read -r A B C <<< "$(free_ports 3)".
free_ports() {
    python3 - "$1" <<'PY'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
PY
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

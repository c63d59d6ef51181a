# Shared shell functions for deploy/quickstart.sh and deploy/test.sh.
# Sourced, not run. Every function is safe to call twice.

SLUICE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Debian packages the build, the tests and the quickstart need.
# libboost-system-dev brings libboost1.74-dev: Boost.Asio and the
# header-only Boost.Beast (the controller's HTTP server). libcpprest-dev is
# for the tests' HTTP client only.
SLUICE_PACKAGES=(
  build-essential cmake pkg-config git curl ca-certificates openssl
  libcpprest-dev libpqxx-dev cppzmq-dev libzmq3-dev nlohmann-json3-dev
  prometheus-cpp-dev libboost-system-dev libssl-dev libhiredis-dev
  libyaml-cpp-dev
  googletest libgtest-dev
  postgresql postgresql-client
  redis-server redis-tools python3 python3-redis python3-yaml
  clang libclang-rt-14-dev
  libboost-dev libgrpc++-dev libprotobuf-dev protobuf-compiler-grpc nginx
  prometheus systemd adduser sudo
  chromium
)

# Each line carries the time since the script started (m:ss), so that a
# CI log shows what each phase cost.
log() { printf '\033[1m==> [%d:%02d] %s\033[0m\n' $((SECONDS / 60)) $((SECONDS % 60)) "$*" >&2 || true; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs whichever of SLUICE_PACKAGES are missing.
install_deps() {
  local missing=()
  local pkg
  for pkg in "${SLUICE_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$pkg")
    fi
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    log "all ${#SLUICE_PACKAGES[@]} Debian packages present"
    return 0
  fi
  log "installing missing packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts the packaged PostgreSQL, Redis and Prometheus services on
  # install where systemd runs; Sluice runs its own private instances and
  # needs none of them (prometheus is here for promtool, systemd for
  # systemd-analyze verify).
}

# build_tree DIR BUILD_TYPE [extra cmake args...]
build_tree() {
  local dir="$1" type="$2"; shift 2
  log "building ($type) in $dir"
  cmake -S "$SLUICE_ROOT" -B "$dir" -DCMAKE_BUILD_TYPE="$type" "$@" >/dev/null
  cmake --build "$dir" -j"$(nproc)"
}

pg_bindir() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [ -n "$dir" ] || die "PostgreSQL server binaries not found under /usr/lib/postgresql; install the 'postgresql' package"
  echo "$dir"
}

# Runs a PostgreSQL server program as the right user: PostgreSQL refuses to
# run as root, so root runs it as 'postgres'.
pg_run() {
  if [ "$(id -u)" -eq 0 ]; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# pg_start DATA_DIR PORT SOCKET_DIR [fast]
# Creates the cluster if DATA_DIR is empty, then starts it on 127.0.0.1:PORT.
# "fast" turns off durability (tests only, never the quickstart).
pg_start() {
  local data="$1" port="$2" sockdir="$3" mode="${4:-}"
  local bin; bin="$(pg_bindir)"
  mkdir -p "$data" "$sockdir"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres:postgres "$data" "$sockdir"
    chmod 700 "$data"
    runuser -u postgres -- test -w "$data" ||
      die "user postgres cannot write $data (a parent directory is not traversable); run from a directory postgres can reach"
  fi
  if [ ! -f "$data/PG_VERSION" ]; then
    log "creating PostgreSQL cluster in $data"
    pg_run "$bin/initdb" -D "$data" -A trust -U postgres --no-sync >/dev/null
  fi
  local opts="-p $port -k $sockdir -c listen_addresses=127.0.0.1"
  if [ "$mode" = fast ]; then
    opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
  fi
  log "starting PostgreSQL on 127.0.0.1:$port"
  pg_run "$bin/pg_ctl" -D "$data" -o "$opts" -l "$data/server.log" -w -t 60 start >/dev/null ||
    { tail -20 "$data/server.log" >&2 || true; die "PostgreSQL did not start (log above)"; }
}

pg_stop() {
  local data="$1"
  local bin; bin="$(pg_bindir)"
  if [ -f "$data/postmaster.pid" ]; then
    log "stopping PostgreSQL ($data)"
    pg_run "$bin/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1 || true
  fi
}

# A TCP port on 127.0.0.1 nobody listens on right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_for DESCRIPTION SECONDS COMMAND...: polls COMMAND every 0.1 s.
wait_for() {
  local what="$1" secs="$2"; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}

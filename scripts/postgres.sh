#!/usr/bin/env bash
# A throwaway PostgreSQL + pgvector cluster for engramdb's PostgreSQL store (docs/postgres.md).
#
#   scripts/postgres.sh [start]   install what is missing, start a cluster, print its URL
#   scripts/postgres.sh install   only install what is missing
#   scripts/postgres.sh stop      stop the cluster and delete its directory
#   scripts/postgres.sh url       print the running cluster's URL (exit 1 when none)
#
# Installs, each only when missing: Debian's postgresql-15 and postgresql-server-dev-15;
# pgvector, built from the source package of Debian's next release (trixie: bookworm has
# no pgvector package), fetched through a deb-src line derived from this machine's own
# apt sources into a private lists directory, so the system's apt state is untouched;
# and the Python client (the "postgres" extra: psycopg, pgvector) into $VENV.
#
# The cluster lives in a new temporary directory, owned by the user it runs as
# (PostgreSQL refuses to run as root: as root it runs as the "postgres" system user),
# listens on 127.0.0.1 only, on a free port, with a random password and fsync off
# (it holds test data only). Its URL goes to $ENV_FILE as a line
# ENGRAMDB_TEST_POSTGRES=postgresql://... that the Makefile and .ci/run read; `start`
# finds a running cluster and reuses it.
set -euo pipefail
cd "$(dirname "$0")/.."
PG_VERSION=${PG_VERSION:-15}
PG_BIN=/usr/lib/postgresql/$PG_VERSION/bin
VENV=${VENV:-.venv}
ENV_FILE=${ENGRAMDB_POSTGRES_ENV:-$(pwd)/.postgres.env}
export DEBIAN_FRONTEND=noninteractive

as_root() {
    if ((EUID == 0)); then "$@"; else sudo "$@"; fi
}

apt_updated=
apt_install() {
    if [[ -z $apt_updated ]]; then
        as_root apt-get update -q >/dev/null
        apt_updated=1
    fi
    as_root apt-get install -y -q --no-install-recommends "$@" >/dev/null
}

# The URI of the machine's own Debian archive (the one that serves bookworm), from
# deb822 .sources files or one-line .list files.
debian_uri() {
    local file
    for file in /etc/apt/sources.list.d/*.sources; do
        [[ -e $file ]] || continue
        awk 'BEGIN { RS = ""; FS = "\n" }
             /Suites:[^\n]*bookworm( |$|\n|-updates)/ && !/bookworm-security/ {
                 for (i = 1; i <= NF; i++) if ($i ~ /^URIs:/) { split($i, u, " "); print u[2]; exit }
             }' "$file"
    done | head -n1 | grep . && return
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
        | awk '$1 == "deb" && $0 ~ / bookworm / && $0 !~ /security/ {
                   for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; exit }
               }' | head -n1 | grep .
}

install_pgvector() (  # a subshell: its EXIT trap removes the build directory
    work=$(mktemp -d "${TMPDIR:-/tmp}/pgvector-XXXXXX")
    trap 'rm -rf "$work"' EXIT
    uri=$(debian_uri) || { echo "no Debian archive in this machine's apt sources" >&2; return 1; }
    mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/src"
    echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri trixie main" \
        >"$work/sources.list"
    apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=-" -o "Dir::Cache=$work/cache"
        -o "APT::Sandbox::User=root"
        -o "Dir::State::Lists=$work/lists" -o "APT::Get::List-Cleanup=0")
    apt-get "${apt_opts[@]}" update -q >/dev/null
    (cd "$work/src" && apt-get "${apt_opts[@]}" source -q --download-only pgvector >/dev/null \
        && dpkg-source --no-check -x ./*.dsc pgvector >/dev/null)
    make -C "$work/src/pgvector" -s PG_CONFIG="$PG_BIN/pg_config" OPTFLAGS="" >/dev/null
    as_root make -C "$work/src/pgvector" -s PG_CONFIG="$PG_BIN/pg_config" install >/dev/null
)

install() {
    local missing=()
    [[ -x $PG_BIN/initdb ]] || missing+=("postgresql-$PG_VERSION")
    [[ -e /usr/include/postgresql/$PG_VERSION/server/postgres.h ]] \
        || missing+=("postgresql-server-dev-$PG_VERSION")
    command -v make >/dev/null || missing+=(make)
    command -v gcc >/dev/null || missing+=(gcc)
    command -v dpkg-source >/dev/null || missing+=(dpkg-dev)
    if ((${#missing[@]})); then
        echo "installing ${missing[*]}"
        apt_install "${missing[@]}"
    fi
    local share
    share=$("$PG_BIN/pg_config" --sharedir)
    if [[ ! -e $share/extension/vector.control ]]; then
        echo "building pgvector from Debian trixie's source package"
        install_pgvector
    fi
    if [[ -x $VENV/bin/python ]] && ! "$VENV/bin/python" -c 'import psycopg, pgvector' 2>/dev/null; then
        echo "installing the postgres extra into $VENV"
        "$VENV/bin/pip" install -q -e '.[postgres]'
    fi
}

# Runs a PostgreSQL program as the cluster's owner.
as_owner() {
    if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi
}

read_env() {
    [[ -e $ENV_FILE ]] || return 1
    # shellcheck disable=SC1090
    source "$ENV_FILE"
    [[ -n ${ENGRAMDB_POSTGRES_DIR:-} && -d $ENGRAMDB_POSTGRES_DIR/data ]]
}

running() {
    read_env && as_owner "$PG_BIN/pg_ctl" status -D "$ENGRAMDB_POSTGRES_DIR/data" >/dev/null 2>&1
}

start() {
    install
    if running; then
        echo "ENGRAMDB_TEST_POSTGRES=$ENGRAMDB_TEST_POSTGRES"
        return
    fi
    rm -f "$ENV_FILE"
    local dir port password url
    dir=$(mktemp -d "${TMPDIR:-/tmp}/engram-postgres-XXXXXX")
    chmod 700 "$dir"
    ((EUID != 0)) || chown postgres: "$dir"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
    as_owner sh -c "umask 077; echo '$password' >'$dir/password'"
    as_owner "$PG_BIN/initdb" -D "$dir/data" -U engram -A scram-sha-256 --pwfile="$dir/password" \
        -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log"
    as_owner "$PG_BIN/pg_ctl" start -w -D "$dir/data" -l "$dir/server.log" -o \
        "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        >/dev/null
    url="postgresql://engram:$password@127.0.0.1:$port/engram"
    PGPASSWORD=$password "$PG_BIN/psql" -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U engram \
        -d postgres -c 'CREATE DATABASE engram' >/dev/null
    PGPASSWORD=$password "$PG_BIN/psql" -q -v ON_ERROR_STOP=1 "$url" \
        -c 'CREATE EXTENSION vector' >/dev/null
    (umask 077 && printf 'ENGRAMDB_TEST_POSTGRES=%s\nENGRAMDB_POSTGRES_DIR=%s\n' "$url" "$dir" >"$ENV_FILE")
    echo "ENGRAMDB_TEST_POSTGRES=$url"
}

stop() {
    if read_env; then
        as_owner "$PG_BIN/pg_ctl" stop -D "$ENGRAMDB_POSTGRES_DIR/data" -m fast >/dev/null 2>&1 || true
        rm -rf "$ENGRAMDB_POSTGRES_DIR"
        echo "stopped the cluster in $ENGRAMDB_POSTGRES_DIR"
    fi
    rm -f "$ENV_FILE"
}

case ${1:-start} in
    start) start ;;
    install) install ;;
    stop) stop ;;
    url) running && echo "$ENGRAMDB_TEST_POSTGRES" ;;
    *) echo "usage: $0 [start|install|stop|url]" >&2; exit 2 ;;
esac

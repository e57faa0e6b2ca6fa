#!/usr/bin/env bash
# Local Postgres for development and tests (127.0.0.1:5432).
#
#   scripts/stack/postgres.sh ensure              start/install Postgres, create roles, databases, schemas
#   scripts/stack/postgres.sh url [SERVICE]       print a connection URL (SERVICE: intake routing
#                                                 supervision scheduling reporting; or admin, test)
#   scripts/stack/postgres.sh drop-test-schemas   drop every schema named t_* in the test database
#   scripts/stack/postgres.sh status              print whether Postgres answers (exit 0 yes, 3 no)
#
# Development credentials only: role xinfang/xinfang (superuser) owns databases
# xinfang and xinfang_test; role xf_SERVICE/xf_SERVICE owns schema SERVICE in
# database xinfang and has search_path "SERVICE, public" there.
#
# Environment:
#   XINFANG_RUN                          logs go to $XINFANG_RUN/logs/postgres*.log
#   XINFANG_CACHE                        holds the lock file postgres-ensure.lock
#   XINFANG_TEST_DB                      name of the test database (xinfang_test); a checkout
#                                        running its tests beside another's uses its own
#   XINFANG_PG_RAISE_MAX_CONNECTIONS=1   also raise max_connections to 200 (with a
#                                        restart) on a cluster this script did not create
#   XINFANG_PG_PORT / XINFANG_PG_CLUSTER port (5432) and Debian cluster name (main);
#                                        only for trying the script on a scratch cluster
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_HOST=127.0.0.1
PG_PORT="${XINFANG_PG_PORT:-5432}"
PG_CLUSTER="${XINFANG_PG_CLUSTER:-main}"
PG_LOG="$XF_LOGS/postgres.log"
PG_APT_LOG="$XF_LOGS/postgres-apt.log"
WANT_MAX_CONNECTIONS=200

mapfile -t SERVICES < <(awk '!/^#/ && $3 == "schema" {print $1}' "$(dirname "${BASH_SOURCE[0]}")/../services.list")
ADMIN_ROLE=xinfang
ADMIN_PASSWORD=xinfang
DB_MAIN=xinfang
DB_TEST="${XINFANG_TEST_DB:-xinfang_test}"

admin_url() { echo "postgres://$ADMIN_ROLE:$ADMIN_PASSWORD@$PG_HOST:$PG_PORT/${1:-$DB_MAIN}"; }
service_url() { echo "postgres://xf_$1:xf_$1@$PG_HOST:$PG_PORT/$DB_MAIN"; }

usage() {
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit "${1:-2}"
}

pg_ready() {
    command -v pg_isready >/dev/null 2>&1 || return 1
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2 >/dev/null 2>&1
}

wait_ready() {
    local timeout="$1" deadline=$((SECONDS + $1))
    log "waiting up to ${timeout}s for Postgres on $PG_HOST:$PG_PORT"
    until pg_ready; do
        ((SECONDS >= deadline)) && return 1
        sleep 1
    done
}

# Prints "VERSION CLUSTER" of the Debian cluster configured for $PG_PORT, if any.
find_cluster() {
    command -v pg_lsclusters >/dev/null 2>&1 || return 0
    pg_lsclusters -h 2>/dev/null | awk -v port="$PG_PORT" -v name="$PG_CLUSTER" '
        $3 == port && $2 == name { print $1, $2; found = 1; exit }
        $3 == port && first == "" { first = $1 " " $2 }
        END { if (!found && first != "") print first }'
}

cluster_log_hint() {
    local ver="$1" name="$2"
    echo "/var/log/postgresql/postgresql-$ver-$name.log"
}

cluster_running() {
    as_root pg_ctlcluster --skip-systemctl-redirect "$1" "$2" status >/dev/null 2>&1
}

start_cluster() {
    local ver="$1" name="$2"
    if cluster_running "$ver" "$name"; then
        log "cluster $ver/$name is already running"
        return 0
    fi
    log "starting cluster $ver/$name with pg_ctlcluster (log: $PG_LOG)"
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start >>"$PG_LOG" 2>&1 9>&- ||
        die_log "pg_ctlcluster $ver $name start failed; server log: $(cluster_log_hint "$ver" "$name")" "$PG_LOG"
}

restart_cluster() {
    local ver="$1" name="$2"
    log "restarting cluster $ver/$name (log: $PG_LOG)"
    as_root pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" restart >>"$PG_LOG" 2>&1 9>&- ||
        die_log "pg_ctlcluster $ver $name restart failed; server log: $(cluster_log_hint "$ver" "$name")" "$PG_LOG"
}

# --- superuser access ------------------------------------------------------

PSQL_MODE=""

# psql_as_su DB [psql args...]: psql as a database superuser, reading SQL from stdin
# when no -c is given.
psql_as_su() {
    local db="$1"
    shift
    local common=(-X -w -v ON_ERROR_STOP=1 -p "$PG_PORT" -d "$db")
    case "$PSQL_MODE" in
    tcp-postgres)
        env -u PGPASSWORD psql "${common[@]}" -h "$PG_HOST" -U postgres "$@"
        ;;
    socket-postgres)
        if [[ $EUID -eq 0 ]]; then
            (cd / && runuser -u postgres -- psql "${common[@]}" "$@")
        else
            (cd / && sudo -n -u postgres psql "${common[@]}" "$@")
        fi
        ;;
    tcp-admin)
        PGPASSWORD="$ADMIN_PASSWORD" psql "${common[@]}" -h "$PG_HOST" -U "$ADMIN_ROLE" "$@"
        ;;
    *) die "internal: no superuser access mode chosen" ;;
    esac
}

is_super() {
    [[ "$(psql_as_su postgres -Atc 'select rolsuper from pg_roles where rolname = current_user' 2>>"$PG_LOG")" == t ]]
}

pick_superuser_access() {
    local mode
    for mode in tcp-postgres socket-postgres tcp-admin; do
        if [[ $mode == socket-postgres ]]; then
            if [[ $EUID -eq 0 ]]; then
                command -v runuser >/dev/null 2>&1 || continue
            else
                command -v sudo >/dev/null 2>&1 || continue
            fi
            id postgres >/dev/null 2>&1 || continue
        fi
        PSQL_MODE="$mode"
        echo "--- trying superuser access: $mode" >>"$PG_LOG"
        if is_super; then
            case "$mode" in
            tcp-postgres) log "connected as superuser postgres over $PG_HOST:$PG_PORT" ;;
            socket-postgres) log "connected as superuser postgres over the local socket (runuser)" ;;
            tcp-admin) log "connected as superuser $ADMIN_ROLE over $PG_HOST:$PG_PORT" ;;
            esac
            return 0
        fi
    done
    PSQL_MODE=""
    die_log "cannot connect to Postgres on port $PG_PORT as a superuser (tried: psql -h $PG_HOST -U postgres; runuser -u postgres -- psql; psql -U $ADMIN_ROLE)" "$PG_LOG"
}

# --- setup SQL -------------------------------------------------------------

setup_cluster_sql() {
    local svc_roles="" s
    for s in "${SERVICES[@]}"; do svc_roles+="'xf_$s',"; done
    svc_roles="${svc_roles%,}"
    cat <<SQL
DO \$\$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$ADMIN_ROLE') THEN
        CREATE ROLE $ADMIN_ROLE;
    END IF;
END
\$\$;
ALTER ROLE $ADMIN_ROLE WITH LOGIN SUPERUSER PASSWORD '$ADMIN_PASSWORD';

DO \$\$
DECLARE r text;
BEGIN
    FOREACH r IN ARRAY ARRAY[$svc_roles] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I', r);
        END IF;
        EXECUTE format('ALTER ROLE %I WITH LOGIN PASSWORD %L', r, r);
    END LOOP;
END
\$\$;

SELECT format('CREATE DATABASE %I OWNER %I', d, '$ADMIN_ROLE')
  FROM unnest(ARRAY['$DB_MAIN', '$DB_TEST']) AS d
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = d)
\gexec
ALTER DATABASE $DB_MAIN OWNER TO $ADMIN_ROLE;
ALTER DATABASE $DB_TEST OWNER TO $ADMIN_ROLE;
SQL
}

setup_main_db_sql() {
    local s
    for s in "${SERVICES[@]}"; do
        cat <<SQL
GRANT CONNECT, TEMPORARY ON DATABASE $DB_MAIN TO xf_$s;
CREATE SCHEMA IF NOT EXISTS $s AUTHORIZATION xf_$s;
ALTER SCHEMA $s OWNER TO xf_$s;
ALTER ROLE xf_$s IN DATABASE $DB_MAIN SET search_path = $s, public;
SQL
    done
}

# login_ok ROLE PASSWORD DB: password login over TCP works.
login_ok() {
    PGPASSWORD="$2" psql -X -w -h "$PG_HOST" -p "$PG_PORT" -U "$1" -d "$3" -Atc 'select 1' >>"$PG_LOG" 2>&1
}

failed_logins() {
    local s out=()
    login_ok "$ADMIN_ROLE" "$ADMIN_PASSWORD" "$DB_MAIN" || out+=("$ADMIN_ROLE@$DB_MAIN")
    login_ok "$ADMIN_ROLE" "$ADMIN_PASSWORD" "$DB_TEST" || out+=("$ADMIN_ROLE@$DB_TEST")
    for s in "${SERVICES[@]}"; do
        login_ok "xf_$s" "xf_$s" "$DB_MAIN" || out+=("xf_$s@$DB_MAIN")
    done
    echo "${out[*]:-}"
}

# Add one password rule for our roles on loopback, ahead of the other rules.
add_hba_rule() {
    local hba method roles s tmp
    hba="$(psql_as_su postgres -Atc 'show hba_file')" || die_log "cannot read hba_file setting" "$PG_LOG"
    [[ -f "$hba" ]] || as_root test -f "$hba" || die "pg_hba.conf not found at $hba"
    if as_root grep -q 'xinfang-stack' "$hba"; then
        die_log "password logins over $PG_HOST still fail although $hba already has the xinfang-stack rule; check the rules above it" "$PG_LOG"
    fi
    method=md5
    [[ "$(psql_as_su postgres -Atc 'show password_encryption')" == scram-sha-256 ]] && method=scram-sha-256
    roles="$ADMIN_ROLE"
    for s in "${SERVICES[@]}"; do roles+=",xf_$s"; done
    log "adding a $method rule for $PG_HOST/32 to $hba"
    tmp="$(mktemp)"
    as_root cat "$hba" >"$tmp"
    {
        echo "# xinfang-stack: development roles log in with a password over loopback"
        printf 'host\t%s,%s\t%s\t127.0.0.1/32\t%s\n' "$DB_MAIN" "$DB_TEST" "$roles" "$method"
        cat "$tmp"
    } | as_root tee "$hba.xinfang-new" >/dev/null
    rm -f "$tmp"
    as_root chown --reference="$hba" "$hba.xinfang-new"
    as_root chmod --reference="$hba" "$hba.xinfang-new"
    as_root cp -p "$hba" "$hba.xinfang-backup"
    as_root mv "$hba.xinfang-new" "$hba"
    psql_as_su postgres -Atc 'select pg_reload_conf()' >>"$PG_LOG" 2>&1 || die_log "pg_reload_conf() failed" "$PG_LOG"
    sleep 1
}

write_max_connections_conf() {
    local ver="$1" name="$2" dir="/etc/postgresql/$1/$2/conf.d"
    as_root mkdir -p "$dir"
    printf '# xinfang-stack: tests open many connection pools\nmax_connections = %s\n' "$WANT_MAX_CONNECTIONS" |
        as_root tee "$dir/90-xinfang.conf" >/dev/null
    as_root chown postgres:postgres "$dir/90-xinfang.conf" 2>/dev/null || true
    log "set max_connections = $WANT_MAX_CONNECTIONS in $dir/90-xinfang.conf"
}

# --- subcommands -----------------------------------------------------------

cmd_ensure() {
    ensure_dirs
    mkdir -p "$XINFANG_CACHE"
    echo "=== postgres.sh ensure $(date -Is)" >>"$PG_LOG"

    exec 9>"$XINFANG_CACHE/postgres-ensure.lock"
    if ! flock -n 9; then
        log "another postgres.sh ensure is running; waiting up to 600s for it (lock: $XINFANG_CACHE/postgres-ensure.lock)"
        flock -w 600 9 || die "timed out waiting for the lock $XINFANG_CACHE/postgres-ensure.lock"
    fi

    local created=0 ver="" name="" cl
    if pg_ready; then
        log "Postgres answers on $PG_HOST:$PG_PORT"
        cl="$(find_cluster)"
        [[ -n "$cl" ]] && read -r ver name <<<"$cl"
    else
        cl="$(find_cluster)"
        if [[ -z "$cl" ]]; then
            if ! pkg_installed postgresql || ! command -v pg_lsclusters >/dev/null 2>&1; then
                log "no Postgres cluster for port $PG_PORT: installing postgresql"
                apt_install "$PG_APT_LOG" postgresql
            fi
            cl="$(find_cluster)"
            if [[ -z "$cl" ]]; then
                ver="$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort -V | tail -n1)"
                [[ -n "$ver" ]] || die_log "postgresql installed but no server version under /usr/lib/postgresql" "$PG_APT_LOG"
                log "creating cluster $ver/$PG_CLUSTER on port $PG_PORT (log: $PG_LOG)"
                as_root pg_createcluster --port "$PG_PORT" "$ver" "$PG_CLUSTER" >>"$PG_LOG" 2>&1 9>&- ||
                    die_log "pg_createcluster $ver $PG_CLUSTER failed" "$PG_LOG"
                cl="$ver $PG_CLUSTER"
            fi
            created=1
        fi
        read -r ver name <<<"$cl"
        if [[ $created -eq 1 ]]; then
            write_max_connections_conf "$ver" "$name"
            if cluster_running "$ver" "$name"; then restart_cluster "$ver" "$name"; fi
        fi
        start_cluster "$ver" "$name"
        wait_ready 60 || die_log "Postgres did not answer on $PG_HOST:$PG_PORT within 60s (is listen_addresses including 127.0.0.1?); server log: $(cluster_log_hint "$ver" "$name")" "$PG_LOG"
        log "Postgres $ver/$name is ready on $PG_HOST:$PG_PORT"
    fi

    command -v psql >/dev/null 2>&1 || apt_install "$PG_APT_LOG" postgresql-client
    pick_superuser_access

    log "creating roles and databases (log: $PG_LOG)"
    setup_cluster_sql | psql_as_su postgres -q >>"$PG_LOG" 2>&1 ||
        die_log "creating roles/databases failed" "$PG_LOG"
    log "creating service schemas in database $DB_MAIN"
    setup_main_db_sql | psql_as_su "$DB_MAIN" -q >>"$PG_LOG" 2>&1 ||
        die_log "creating schemas in database $DB_MAIN failed" "$PG_LOG"

    local failed
    failed="$(failed_logins)"
    if [[ -n "$failed" ]]; then
        warn "password login over $PG_HOST failed for: $failed"
        add_hba_rule
        failed="$(failed_logins)"
        [[ -z "$failed" ]] || die_log "password login over $PG_HOST still fails for: $failed" "$PG_LOG"
    fi
    log "password logins over $PG_HOST work for $ADMIN_ROLE and the xf_* service roles"

    local maxc
    maxc="$(psql_as_su postgres -Atc 'show max_connections' 2>>"$PG_LOG")" || die_log "cannot read max_connections" "$PG_LOG"
    if ((maxc < WANT_MAX_CONNECTIONS)); then
        if [[ "${XINFANG_PG_RAISE_MAX_CONNECTIONS:-0}" == 1 && -n "$ver" ]]; then
            write_max_connections_conf "$ver" "$name"
            restart_cluster "$ver" "$name"
            wait_ready 60 || die_log "Postgres did not come back after the restart; server log: $(cluster_log_hint "$ver" "$name")" "$PG_LOG"
            maxc="$(psql_as_su postgres -Atc 'show max_connections' 2>>"$PG_LOG")"
            log "max_connections is now $maxc"
        else
            warn "max_connections is $maxc (< $WANT_MAX_CONNECTIONS); tests that open many pools may run out of connections. Set XINFANG_PG_RAISE_MAX_CONNECTIONS=1 to raise it (restarts Postgres)."
        fi
    else
        log "max_connections = $maxc"
    fi

    log "Postgres ready; URLs (development credentials):"
    printf '%-12s %s\n' admin "$(admin_url "$DB_MAIN")" test "$(admin_url "$DB_TEST")"
    local s
    for s in "${SERVICES[@]}"; do printf '%-12s %s\n' "$s" "$(service_url "$s")"; done
}

cmd_url() {
    local what="${1:-admin}"
    case "$what" in
    admin | "$ADMIN_ROLE") admin_url "$DB_MAIN" ;;
    test) admin_url "$DB_TEST" ;;
    *)
        local s
        for s in "${SERVICES[@]}"; do
            if [[ "$what" == "$s" || "$what" == "xf_$s" ]]; then
                service_url "$s"
                return 0
            fi
        done
        echo "==> ERROR ($XF_PROG): unknown service '$what' (known: ${SERVICES[*]} admin test)" >&2
        exit 2
        ;;
    esac
}

cmd_drop_test_schemas() {
    ensure_dirs
    command -v psql >/dev/null 2>&1 || die "psql not found: run '$0 ensure' first"
    local url n
    url="$(admin_url "$DB_TEST")"
    echo "=== postgres.sh drop-test-schemas $(date -Is)" >>"$PG_LOG"
    n="$(psql -X -w -Atq "$url" -c "select count(*) from pg_namespace where nspname like 't\\_%'" 2>>"$PG_LOG")" ||
        die_log "cannot connect to $DB_TEST as $ADMIN_ROLE (run '$0 ensure' first)" "$PG_LOG"
    if [[ "$n" == 0 ]]; then
        log "no t_* schemas in $DB_TEST"
        return 0
    fi
    log "dropping $n t_* schema(s) in $DB_TEST (log: $PG_LOG)"
    psql -X -w -q -v ON_ERROR_STOP=1 "$url" >>"$PG_LOG" 2>&1 <<'SQL' || die_log "dropping t_* schemas in $DB_TEST failed" "$PG_LOG"
SELECT format('DROP SCHEMA IF EXISTS %I CASCADE', nspname)
  FROM pg_namespace
 WHERE nspname LIKE 't\_%'
 ORDER BY nspname
\gexec
SQL
    log "dropped $n schema(s)"
}

cmd_status() {
    if pg_ready; then
        echo "postgres: running ($PG_HOST:$PG_PORT)"
    else
        echo "postgres: not running ($PG_HOST:$PG_PORT)"
        exit 3
    fi
}

[[ $# -ge 1 ]] || usage
cmd="$1"
shift
case "$cmd" in
ensure) cmd_ensure "$@" ;;
url) cmd_url "$@" ;;
drop-test-schemas) cmd_drop_test_schemas "$@" ;;
status) cmd_status "$@" ;;
-h | --help | help) usage 0 ;;
*)
    echo "==> ERROR ($XF_PROG): unknown command '$cmd'" >&2
    usage
    ;;
esac

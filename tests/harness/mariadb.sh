# mariadb.sh - sourceable helpers: a throwaway MariaDB server on 127.0.0.1 for tests and benchmarks.
# Owns one temp dir ($MDB_TMP: data dir, socket, logs) and the one mariadbd it starts ($MDB_PID);
# mdb_cleanup stops exactly that PID and removes the dir. Real authentication (a user with a
# random password over TCP; no --skip-grant-tables); default durability
# (innodb_flush_log_at_trx_commit=1). Sourcing defines functions only; nothing starts before
# mdb_start. Works as root (mariadbd --user=root) and as an ordinary user.
#
# Use from bash (after sourcing gearmand.sh, if both are used: its servers are then stopped
# before MariaDB on exit):
#   . "$(dirname "$0")/../harness/mariadb.sh"
#   mdb_start [MARIADBD ARGS...]  # install + start + user + database; installs the EXIT trap;
#                                 # exports MDB_HOST MDB_PORT MDB_USER MDB_PASSWORD MDB_DB
#                                 # MDB_SOCKET MDB_PID MDB_TMP MDB_LOG, and QB_HOST QB_PORT QB_USER
#                                 # QB_PASSWORD QB_DB for tests/queue_backends
#   mdb_sql [CLIENT ARGS...]      # mariadb client as $MDB_USER over TCP in $MDB_DB (stdin or -e)
#   mdb_root [CLIENT ARGS...]     # mariadb client as root over the Unix socket
#   mdb_server_stop               # clean shutdown (SIGTERM by PID), data kept: restart tests
#   mdb_server_kill               # SIGKILL by PID (a crash), data kept
#   mdb_server_start              # start again on the same port, data and arguments
#   mdb_cleanup                   # stop by PID, remove $MDB_TMP (also run by the trap)
# Env: MDB_KEEP=1 keeps $MDB_TMP; MDB_START_TIMEOUT (seconds, default 60).

MDB_HOST=127.0.0.1
MDB_USER=gman
MDB_DB=gman_test
MDB_PID=""
MDB_PORT=""
MDB_TMP=""
MDB_ARGS=()

# mdb__free_port: print a free loopback port chosen by the kernel (never 3306 or 4730).
mdb__free_port() {
    perl -MIO::Socket::INET -e '
        for (1 .. 20) {
            my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0,
                Proto => "tcp", Listen => 1, ReuseAddr => 1) or next;
            my $p = $s->sockport;
            next if $p == 4730 || $p == 3306;
            print "$p\n";
            exit 0;
        }
        exit 1;'
}

# mdb__is_ours PID: true if PID runs, is a child of this shell and is not a zombie (a PID bash
# has reaped may have been reused: signals go only to PIDs that pass this check).
mdb__is_ours() {
    local info
    [ -n "$1" ] || return 1
    info=$(ps -o ppid=,stat= -p "$1" 2>/dev/null) || return 1
    set -- $info
    [ "$1" = "$$" ] && [ "${2#Z}" = "$2" ]
}

mdb__user_arg() {
    [ "$(id -u)" = 0 ] && echo "--user=root"
}

# mdb__install: fresh temp dir and data directory (root without password on the socket only).
mdb__install() {
    MDB_TMP=$(mktemp -d "${TMPDIR:-/tmp}/gm-mdb.XXXXXX") || return 1
    MDB_SOCKET=$MDB_TMP/mysqld.sock
    MDB_LOG=$MDB_TMP/error.log
    export MDB_TMP MDB_SOCKET MDB_LOG
    mariadb-install-db --no-defaults --datadir="$MDB_TMP/data" $(mdb__user_arg) \
        --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
        >"$MDB_TMP/install.log" 2>&1 || {
        echo "mariadb.sh: mariadb-install-db failed:" >&2
        tail -n 10 "$MDB_TMP/install.log" >&2
        return 1
    }
}

# mdb__wait_ready SECS: until the server answers a ping on its socket; 1 if it died or timed out.
mdb__wait_ready() {
    local i
    for i in $(seq 1 $(($1 * 10))); do
        mdb__is_ours "$MDB_PID" || return 1
        mariadb-admin --no-defaults --socket="$MDB_SOCKET" -uroot --connect-timeout=2 ping \
            >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# mdb_server_start: start mariadbd on $MDB_PORT with $MDB_TMP/data and MDB_ARGS; wait for it.
mdb_server_start() {
    mdb__is_ours "$MDB_PID" && return 0
    mariadbd --no-defaults --datadir="$MDB_TMP/data" --socket="$MDB_SOCKET" --port="$MDB_PORT" \
        --bind-address=127.0.0.1 --skip-name-resolve $(mdb__user_arg) \
        --pid-file="$MDB_TMP/mysqld.pid" --log-error="$MDB_LOG" \
        --innodb-flush-log-at-trx-commit=1 "${MDB_ARGS[@]}" </dev/null >>"$MDB_TMP/stdout" 2>&1 &
    MDB_PID=$!
    export MDB_PID
    mdb__wait_ready "${MDB_START_TIMEOUT:-60}"
}

# mdb__signal SIG SECS: send SIG to our server, wait up to SECS for it to exit, then SIGKILL.
mdb__signal() {
    local pid=$MDB_PID i
    mdb__is_ours "$pid" || { wait "$pid" 2>/dev/null; return 0; }
    kill "-$1" "$pid" 2>/dev/null
    for i in $(seq 1 $(($2 * 10))); do
        mdb__is_ours "$pid" || break
        sleep 0.1
    done
    mdb__is_ours "$pid" && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

# (stderr off: bash would report "Killed" when it reaps the server)
mdb_server_stop() {
    mdb__signal TERM 60 2>/dev/null
}

mdb_server_kill() {
    mdb__signal KILL 10 2>/dev/null
}

# mdb__setup_user: the test database and a password-protected user for 127.0.0.1 with all rights
# (tests create other databases and set globals).
mdb__setup_user() {
    MDB_PASSWORD=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
    mdb_root <<EOF
CREATE DATABASE IF NOT EXISTS \`$MDB_DB\`;
CREATE USER '$MDB_USER'@'127.0.0.1' IDENTIFIED BY '$MDB_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO '$MDB_USER'@'127.0.0.1' WITH GRANT OPTION;
EOF
}

# mdb__install_trap: run the cleanup on EXIT (once). With gearmand.sh's trap in place, its
# servers stop first (they use the database), then MariaDB, then gm_cleanup; otherwise
# mdb_cleanup runs before whatever EXIT trap was set.
mdb__install_trap() {
    local prev
    [ "${MDB__TRAPPED:-0}" = 1 ] && return 0
    MDB__TRAPPED=1
    prev=$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//")
    if [ "$prev" = gm_cleanup ]; then
        trap mdb__cleanup_gm EXIT
    else
        # shellcheck disable=SC2064
        trap "mdb_cleanup; ${prev:-exit \$?}" EXIT
    fi
    [ -n "$(trap -p TERM)" ] || trap 'exit 143' TERM
    [ -n "$(trap -p INT)" ] || trap 'exit 130' INT
    [ -n "$(trap -p HUP)" ] || trap 'exit 129' HUP
}

# mdb_start [ARGS...]: install, start on a free port (retrying a lost port race) with ARGS added,
# create the user and database, export the settings. Returns non-zero if it never came up.
mdb_start() {
    local try
    MDB_ARGS=("$@")
    mdb__install || return 1
    mdb__install_trap
    for try in 1 2 3; do
        MDB_PORT=$(mdb__free_port) || continue
        export MDB_PORT
        mdb_server_start && break
        echo "mariadb.sh: attempt $try on port $MDB_PORT failed: $(tail -n 2 "$MDB_LOG")" >&2
        mdb_server_kill
        MDB_PORT=""
        grep -qiE 'bind|in use' "$MDB_LOG" 2>/dev/null || break
    done
    [ -n "$MDB_PORT" ] || { echo "mariadb.sh: mariadbd did not start" >&2; return 1; }
    mdb__setup_user || { echo "mariadb.sh: could not create the test user" >&2; return 1; }
    export MDB_HOST MDB_PORT MDB_USER MDB_PASSWORD MDB_DB
    export QB_HOST=$MDB_HOST QB_PORT=$MDB_PORT QB_USER=$MDB_USER QB_PASSWORD=$MDB_PASSWORD
    export QB_DB=$MDB_DB
}

# mdb_sql [ARGS...]: the mariadb client as the test user over TCP in the test database.
mdb_sql() {
    MYSQL_PWD="$MDB_PASSWORD" mariadb --no-defaults --protocol=tcp -h "$MDB_HOST" -P "$MDB_PORT" \
        -u "$MDB_USER" --batch --skip-column-names "$@" "$MDB_DB"
}

# mdb_root [ARGS...]: the mariadb client as root over the Unix socket.
mdb_root() {
    mariadb --no-defaults --socket="$MDB_SOCKET" -uroot --batch --skip-column-names "$@"
}

# mdb_cleanup: stop our server (by PID) and remove $MDB_TMP; returns the $? it was called with.
mdb_cleanup() {
    local rc=$?
    mdb_server_stop
    if [ -n "$MDB_TMP" ] && [ -d "$MDB_TMP" ]; then
        if [ "$rc" != 0 ] && [ -s "$MDB_LOG" ]; then
            echo "--- last lines of $MDB_LOG:" >&2
            tail -n 10 "$MDB_LOG" >&2
        fi
        if [ "${MDB_KEEP:-0}" = 1 ]; then
            echo "# kept $MDB_TMP" >&2
        else
            rm -rf "$MDB_TMP"
        fi
    fi
    MDB_TMP=""
    return "$rc"
}

# mdb__cleanup_gm: EXIT trap with gearmand.sh: its helpers and servers first (by PID, reporting a
# server that died during the test as gm_cleanup would), then MariaDB, then gm_cleanup.
mdb__cleanup_gm() {
    local rc=$? pid
    gm_bg_stop_all
    if [ -n "$GM_PID" ] && ! gm_is_ours "$GM_PID" && [ "${GM_TERMINATED:-0}" = 0 ]; then
        echo "FAIL: server pid $GM_PID died during the test" >&2
        rc=1
    fi
    for pid in $GM_SERVER_PIDS; do
        gm_kill "$pid"
    done
    GM_PID=""
    (exit "$rc")
    mdb_cleanup
    gm_cleanup
}

# pg.sh - sourceable helpers: a throwaway PostgreSQL cluster for tests and benchmarks.
# Owns one temp dir ($PG_TMP: data dir, unix socket dir, log) and the postmaster started in it;
# pg_cleanup stops exactly that postmaster (by the PID it wrote) and removes the dir. Listens on
# 127.0.0.1 only, on a free port; default durability (fsync on, synchronous_commit on).
# Sourcing defines functions only; nothing starts until pg_start.
#
# Use from bash (after sourcing gearmand.sh, if both are used):
#   . "$(dirname "$0")/../harness/pg.sh"
#   pg_start [DBNAME]     # initdb + start + createdb (default gman_test); installs an EXIT trap
#                         # that runs pg_cleanup before any EXIT trap already set (chained)
#   pg_server_stop        # stop the postmaster (fast), keep the data: for restart tests
#   pg_server_start       # start it again on the same port and data
#   pg_server_crash       # SIGKILL the postmaster and its children (crash recovery follows)
#   pg_psql [ARGS...]     # psql -X -q -v ON_ERROR_STOP=1 on $PG_CONNINFO
#   pg_cleanup            # stop by PID and remove $PG_TMP (also run by the trap)
# Exports: PG_BINDIR PG_TMP PG_DATA PG_SOCKDIR PG_LOG PG_PORT PG_DB PG_CONNINFO PG_PID, and
# PGHOST/PGPORT/PGUSER/PGDATABASE left alone (set them from these if a test wants them).
# Env: PG_KEEP=1 keeps $PG_TMP after cleanup.

# pg_bindir: print the directory holding initdb/pg_ctl (server binaries, not client wrappers).
pg_bindir() {
    local d
    d=$(pg_config --bindir 2>/dev/null)
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
        echo "$d"
        return 0
    fi
    for d in /usr/lib/postgresql/15/bin \
        $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
            echo "$d"
            return 0
        fi
    done
    echo "pg.sh: no PostgreSQL server binaries (initdb, pg_ctl); run make deps" >&2
    return 1
}

# pg__as_owner CMD...: run CMD as the cluster's owner: the postgres user when we are root
# (initdb refuses root), ourselves otherwise. Runs from $PG_TMP so no unreadable cwd bothers it.
pg__as_owner() {
    if [ "$(id -u)" = 0 ]; then
        (cd "$PG_TMP" && runuser -u postgres -- "$@")
    else
        (cd "$PG_TMP" && "$@")
    fi
}

# pg__free_port: a free loopback TCP port chosen by the kernel (never 5432 or 4730).
pg__free_port() {
    perl -MIO::Socket::INET -e '
        for (1 .. 20) {
            my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0,
                Proto => "tcp", Listen => 1, ReuseAddr => 1) or next;
            my $p = $s->sockport;
            next if $p == 5432 || $p == 4730;
            print "$p\n";
            exit 0;
        }
        exit 1;'
}

# pg__read_pid: the postmaster PID from our data dir's postmaster.pid (empty if none).
pg__read_pid() {
    [ -f "$PG_DATA/postmaster.pid" ] && head -n 1 "$PG_DATA/postmaster.pid"
}

# pg__is_ours PID: true if PID is alive and is a postgres started on our data dir.
pg__is_ours() {
    [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$PG_DATA"
}

# pg_server_start: start the postmaster on $PG_DATA and $PG_PORT; wait until it accepts
# connections. Sets and exports PG_PID. Returns non-zero if it did not come up.
pg_server_start() {
    local i
    pg__as_owner "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 -s \
        -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_SOCKDIR -c fsync=on" start \
        >/dev/null 2>&1 || return 1
    for i in $(seq 1 100); do
        if "$PG_BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 1; then
            PG_PID=$(pg__read_pid)
            export PG_PID
            return 0
        fi
        sleep 0.1
    done
    return 1
}

# pg_server_stop: stop our postmaster (fast shutdown: sessions are ended, data kept); SIGKILL it
# by PID if it does not go within 30 s.
pg_server_stop() {
    local pid i
    pid=$(pg__read_pid)
    [ -n "$pid" ] || pid=$PG_PID
    pg__is_ours "$pid" || return 0
    pg__as_owner "$PG_BINDIR/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 -s stop >/dev/null 2>&1
    for i in $(seq 1 50); do
        pg__is_ours "$pid" || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    return 0
}

# pg_server_crash: SIGKILL our postmaster and its children (by PID), like a machine crash: the
# next pg_server_start runs crash recovery.
pg_server_crash() {
    local pid kids k
    pid=$(pg__read_pid)
    pg__is_ours "$pid" || return 0
    kids=$(ps -o pid= --ppid "$pid" 2>/dev/null)
    kill -KILL "$pid" 2>/dev/null
    for k in $kids; do
        kill -KILL "$k" 2>/dev/null
    done
    # wait until they are gone and reaped: a zombie still counts as alive for the lock file check
    for k in $(seq 1 100); do
        [ -e "/proc/$pid" ] || return 0
        sleep 0.1
    done
    return 1
}

# pg__init: fresh temp dir and cluster (UTF8, C.UTF-8, trust auth for local connections only).
pg__init() {
    PG_BINDIR=$(pg_bindir) || return 1
    PG_TMP=$(mktemp -d /tmp/gm-pg.XXXXXX) || return 1
    PG_DATA=$PG_TMP/data
    PG_SOCKDIR=$PG_TMP/sock
    PG_LOG=$PG_TMP/postgres.log
    mkdir -p "$PG_SOCKDIR"
    if [ "$(id -u)" = 0 ]; then
        chown -R postgres:postgres "$PG_TMP" || return 1
    fi
    chmod 700 "$PG_TMP"
    export PG_BINDIR PG_TMP PG_DATA PG_SOCKDIR PG_LOG
    pg__as_owner "$PG_BINDIR/initdb" -D "$PG_DATA" -U postgres -A trust --locale=C.UTF-8 -E UTF8 \
        >"$PG_TMP/initdb.log" 2>&1 || {
        echo "pg.sh: initdb failed:" >&2
        tail -n 5 "$PG_TMP/initdb.log" >&2
        return 1
    }
}

# pg_psql [ARGS...]: psql on our database, no psqlrc, quiet, stop at the first error.
pg_psql() {
    "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -d "$PG_CONNINFO" "$@"
}

# pg__install_trap: run pg_cleanup on EXIT before whatever EXIT trap is already set (once).
pg__install_trap() {
    local prev
    [ "${PG__TRAPPED:-0}" = 1 ] && return 0
    PG__TRAPPED=1
    prev=$(trap -p EXIT | sed -e "s/^trap -- '//" -e "s/' EXIT\$//")
    # shellcheck disable=SC2064
    trap "pg_cleanup; $prev" EXIT
    # a signal must end the script through exit, so that the EXIT trap stops the cluster
    [ -n "$(trap -p TERM)" ] || trap 'exit 143' TERM
    [ -n "$(trap -p INT)" ] || trap 'exit 130' INT
    [ -n "$(trap -p HUP)" ] || trap 'exit 129' HUP
}

# pg_start [DBNAME]: initdb, start on a free port (retried if the port was taken meanwhile),
# create DBNAME (default gman_test) and export PG_PORT, PG_DB, PG_CONNINFO.
pg_start() {
    local try
    PG_DB=${1:-gman_test}
    pg__init || return 1
    pg__install_trap
    for try in 1 2 3 4 5; do
        PG_PORT=$(pg__free_port) || continue
        export PG_PORT
        pg_server_start && break
        PG_PORT=""
        grep -qiE 'could not (bind|create listen)|in use' "$PG_LOG" 2>/dev/null || break
    done
    if [ -z "$PG_PORT" ]; then
        echo "pg.sh: postgres did not start; last log lines:" >&2
        tail -n 5 "$PG_LOG" >&2
        return 1
    fi
    PG_CONNINFO="host=127.0.0.1 port=$PG_PORT user=postgres dbname=$PG_DB"
    export PG_DB PG_CONNINFO
    "$PG_BINDIR/psql" -X -q -v ON_ERROR_STOP=1 \
        -d "host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres" \
        -c "CREATE DATABASE \"$PG_DB\"" || return 1
}

# pg_cleanup: stop the postmaster we started (by PID) and remove $PG_TMP. Keeps $? for the
# next EXIT handler in the chain.
pg_cleanup() {
    local rc=$?
    if [ -n "${PG_DATA:-}" ]; then
        pg_server_stop
        if [ "${PG_KEEP:-0}" = 1 ]; then
            echo "# kept $PG_TMP" >&2
        elif [ -n "${PG_TMP:-}" ]; then
            rm -rf "$PG_TMP"
        fi
        PG_DATA=""
    fi
    return $rc
}

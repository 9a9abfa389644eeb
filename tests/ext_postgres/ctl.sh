#!/bin/bash
# ctl.sh - control actions for the extension tests, called by run.sh and from inside the pgTAP
# files through psql's \! (so one database session lives across them). Owns the test's gearmand
# (started here on $EXT_GM_PORT, its PID in $EXT_TMP/gearmand.pid; stopped by that PID only).
# Usage: ctl.sh gearmand-start | gearmand-stop | gearmand-restart
#        ctl.sh cancel-when-running PATTERN   (background: pg_cancel_backend of the session whose
#                                              running query contains PATTERN, once it has waited
#                                              300 ms in it)
#        ctl.sh conn-count PID                (prints how many TCP connections process PID has
#                                              open to our gearmand)
# Env (from run.sh): EXT_TMP EXT_GM_PORT GEARMAND_BIN PG_CONNINFO PG_BINDIR
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@" # bash only (the harness needs it)
set -u
: "${EXT_TMP:?}" "${EXT_GM_PORT:?}" "${GEARMAND_BIN:?}" "${PG_CONNINFO:?}"
pidfile=$EXT_TMP/gearmand.pid

# is_ours PID: PID is alive and is our gearmand on our port.
is_ours() {
    [ -n "$1" ] && [ -r "/proc/$1/cmdline" ] &&
        tr '\0' ' ' <"/proc/$1/cmdline" | grep -qF -- "-p $EXT_GM_PORT "
}

# wait_ready: until the server answers an ECHO_REQ (10 s).
wait_ready() {
    perl -MIO::Socket::INET -MTime::HiRes=time,sleep -e '
        my ($port) = @ARGV;
        my $deadline = time + 10;
        while (time < $deadline) {
            my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port,
                Proto => "tcp", Timeout => 1);
            if ($s) {
                binmode $s;
                syswrite $s, pack("a4NN", "\0REQ", 16, 2) . "hi";
                my $got = "";
                while (length $got < 14) {
                    my $n = sysread $s, my $b, 64;
                    last unless $n;
                    $got .= $b;
                }
                exit 0 if $got eq pack("a4NN", "\0RES", 17, 2) . "hi";
            }
            sleep 0.05;
        }
        exit 1;' "$EXT_GM_PORT"
}

gearmand_start() {
    local dir=$EXT_TMP/gearmand
    mkdir -p "$dir"
    # durable queue in the test database: the table gman_do_background_tx inserts into
    (cd "$dir" && exec "$GEARMAND_BIN" -L 127.0.0.1 -p "$EXT_GM_PORT" -q Postgres \
        --libpq-conninfo "$PG_CONNINFO" --libpq-table queue -l "$dir/gearmand.log" \
        --verbose WARNING </dev/null >>"$dir/stdout" 2>>"$dir/stderr") &
    echo $! >"$pidfile"
    wait_ready || {
        echo "ctl.sh: gearmand did not come up on $EXT_GM_PORT:" >&2
        tail -n 5 "$dir/stderr" "$dir/gearmand.log" >&2
        return 1
    }
}

gearmand_stop() {
    local pid i
    pid=$(cat "$pidfile" 2>/dev/null)
    is_ours "$pid" || return 0
    kill -TERM "$pid"
    for i in $(seq 1 100); do
        is_ours "$pid" || return 0
        sleep 0.05
    done
    kill -KILL "$pid" 2>/dev/null
}

cancel_when_running() {
    local pattern=$1
    PATTERN=$pattern "$PG_BINDIR/psql" -X -q -At -d "$PG_CONNINFO" >/dev/null 2>&1 <<'SQL' &
\getenv pattern PATTERN
SET ctl.pattern = :'pattern';
DO $$
DECLARE
    target int;
BEGIN
    FOR i IN 1 .. 200 LOOP
        SELECT pid INTO target FROM pg_catalog.pg_stat_activity
         WHERE state = 'active' AND pid <> pg_catalog.pg_backend_pid()
           AND query LIKE '%' || current_setting('ctl.pattern') || '%'
           AND query NOT LIKE '%pg_stat_activity%'
           AND pg_catalog.clock_timestamp() - query_start > interval '300 ms';
        IF target IS NOT NULL THEN
            PERFORM pg_catalog.pg_cancel_backend(target);
            RETURN;
        END IF;
        PERFORM pg_catalog.pg_sleep(0.05);
    END LOOP;
END
$$;
SQL
}

conn_count() {
    ss -Htnp state established "( dport = :$EXT_GM_PORT )" | grep -c "pid=$1,"
}

case "${1:-}" in
gearmand-start) gearmand_start ;;
gearmand-stop) gearmand_stop ;;
gearmand-restart) gearmand_stop && gearmand_start ;;
cancel-when-running) cancel_when_running "$2" ;;
conn-count) conn_count "$2" ;;
*)
    echo "usage: ctl.sh gearmand-start|gearmand-stop|gearmand-restart|cancel-when-running PATTERN|conn-count PID" >&2
    exit 2
    ;;
esac

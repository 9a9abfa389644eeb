# gearmand.sh - sourceable helpers for integration tests: throwaway gearmand servers on loopback.
# Owns the test's temp dir ($GM_TMP), the servers it starts ($GM_SERVER_PIDS) and the helper
# processes registered with gm_bg ($GM_BG_PIDS); gm_cleanup (installed on EXIT) stops exactly those
# PIDs and nothing else. Never binds or talks to port 4730; all traffic stays on 127.0.0.1.
#
# Use from bash:
#   . "$(dirname "$0")/../harness/gearmand.sh"
#   gm_start [extra gearmand args]     # sets GM_PORT, GM_PID, GM_DIR, GM_LOG (exported)
#   gm_bg cmd args...                  # background helper; its PID in GM_LAST_PID
#   gm_perl <<'EOF' ... EOF            # perl with GmRaw loaded (raw protocol helpers)
#   gm_fail "message"                  # print FAIL and exit 1
# Env: GEARMAND_BIN (default build/gearmand of this tree), GM_KEEP=1 keeps the temp dir.

GM_HARNESS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)
GM_ROOT=$(cd "$GM_HARNESS_DIR/../.." && pwd)
: "${GEARMAND_BIN:=$GM_ROOT/build/gearmand}"
case "$GEARMAND_BIN" in /*) ;; *) GEARMAND_BIN=$PWD/$GEARMAND_BIN ;; esac
export GEARMAND_BIN GM_HARNESS_DIR
export PERL5LIB="$GM_HARNESS_DIR${PERL5LIB:+:$PERL5LIB}"

GM_TMP=$(mktemp -d "${TMPDIR:-/tmp}/gm-test.XXXXXX") || exit 1
export GM_TMP
GM_SERVER_PIDS=""
GM_BG_PIDS=""
GM_LAST_PID=""
GM_PORT=""
GM_PID=""
GM_DIR=""
GM_LOG=""
GM_TERMINATED=0

# gm_log: progress note on stderr (shown by run.sh when a test fails).
gm_log() {
    echo "# $*" >&2
}

# gm_fail: report a failure and exit 1 (the EXIT trap then shows the server's stderr and log).
gm_fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# gm_free_port: print a free loopback port chosen by the kernel (never 4730).
gm_free_port() {
    perl -MIO::Socket::INET -e '
        for (1 .. 20) {
            my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => 0,
                Proto => "tcp", Listen => 1, ReuseAddr => 1) or next;
            my $p = $s->sockport;
            next if $p == 4730;
            print "$p\n";
            exit 0;
        }
        exit 1;'
}

# gm_wait_ready PORT PID SECS: wait until the server at PORT answers ECHO_REQ; fail early if PID
# exits. Returns 0 when ready.
gm_wait_ready() {
    perl -MIO::Socket::INET -MIO::Select -MTime::HiRes=time,sleep -e '
        my ($port, $pid, $secs) = @ARGV;
        my $deadline = time + $secs;
        my $ping = "gm-ready-$$";
        while (time < $deadline) {
            exit 2 unless kill 0, $pid;
            my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $port,
                Proto => "tcp", Timeout => 1);
            if (!$s) { sleep 0.05; next; }
            binmode $s;
            syswrite $s, pack("a4NN", "\0REQ", 16, length $ping) . $ping;
            my $want = pack("a4NN", "\0RES", 17, length $ping) . $ping;
            my $got = "";
            my $sel = IO::Select->new($s);
            while (length $got < length $want && $sel->can_read(1)) {
                my $n = sysread $s, my $buf, 4096;
                last unless $n;
                $got .= $buf;
            }
            exit 0 if $got eq $want;
            close $s;
            sleep 0.1;
        }
        exit 1;' "$1" "$2" "$3"
}

# gm_start [ARGS...]: start $GEARMAND_BIN on a free loopback port in a fresh dir with ARGS added;
# retries with another port if it does not come up (e.g. the port was taken meanwhile).
# Sets and exports GM_PORT, GM_PID, GM_DIR, GM_LOG. Returns non-zero if it never came up.
gm_start() {
    local try port dir pid
    [ -x "$GEARMAND_BIN" ] || gm_fail "GEARMAND_BIN=$GEARMAND_BIN is not executable"
    for try in 1 2 3 4 5; do
        port=$(gm_free_port) || continue
        dir=$(mktemp -d "$GM_TMP/server.XXXXXX")
        # run inside its temp dir (core files and the like land there); exec keeps $! the server
        (cd "$dir" && exec "$GEARMAND_BIN" -L 127.0.0.1 -p "$port" -l "$dir/gearmand.log" \
            -P "$dir/gearmand.pid" "$@" </dev/null >"$dir/stdout" 2>"$dir/stderr") &
        pid=$!
        GM_SERVER_PIDS="$GM_SERVER_PIDS $pid"
        if gm_wait_ready "$port" "$pid" 10; then
            GM_PORT=$port
            GM_PID=$pid
            GM_DIR=$dir
            GM_LOG=$dir/gearmand.log
            export GM_PORT GM_PID GM_DIR GM_LOG
            return 0
        fi
        gm_log "server attempt $try on port $port did not come up:" \
            "$(tail -n 3 "$dir/stderr" 2>/dev/null)"
        gm_kill "$pid"
        # only a lost port race is worth another try; a refused option or a crash is not
        if [ -s "$dir/stderr" ] || [ -s "$dir/gearmand.log" ]; then
            grep -qiE 'bind|address|in use' "$dir/stderr" "$dir/gearmand.log" 2>/dev/null || break
        fi
    done
    gm_fail "could not start $GEARMAND_BIN $*"
}

# gm_is_ours PID: true if PID is running and is a child of this shell. bash reaps background
# children by itself, so a remembered PID may since have been reused by another process; signals
# go only to PIDs that pass this check.
gm_is_ours() {
    local info
    [ -n "$1" ] || return 1
    info=$(ps -o ppid=,stat= -p "$1" 2>/dev/null) || return 1
    set -- $info
    [ "$1" = "$$" ] && [ "${2#Z}" = "$2" ]    # our child, and not a zombie
}

# gm_kill PID: SIGTERM, wait up to 3 s, then SIGKILL. Only for PIDs this test started.
gm_kill() {
    local pid=$1 i
    if gm_is_ours "$pid"; then
        kill -TERM "$pid" 2>/dev/null
        for i in $(seq 1 60); do
            gm_is_ours "$pid" || break
            sleep 0.05
        done
        gm_is_ours "$pid" && kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    return 0
}

# gm_alive: true if the current server ($GM_PID) is still running.
gm_alive() {
    gm_is_ours "$GM_PID"
}

# gm_assert_alive: fail if the current server has exited (crash on bad input, ...).
gm_assert_alive() {
    gm_alive || gm_fail "server pid $GM_PID exited unexpectedly; stderr: $(tail -n 5 "$GM_DIR/stderr" 2>/dev/null)"
}

# gm_stop: stop the gm_bg helpers (they talk to this server), then the current server, by PID.
gm_stop() {
    gm_bg_stop_all
    [ -n "$GM_PID" ] && gm_kill "$GM_PID"
    GM_PID=""
}

# gm_bg CMD ARGS...: run a helper in the background, remembered for cleanup; PID in GM_LAST_PID.
# CMD may be gm_perl (run as perl itself, so the PID is the helper and not a subshell).
gm_bg() {
    if [ "$1" = gm_perl ]; then
        shift
        set -- perl -I"$GM_HARNESS_DIR" -Mstrict -Mwarnings -MGmRaw "$@"
    fi
    "$@" &
    GM_LAST_PID=$!
    GM_BG_PIDS="$GM_BG_PIDS $GM_LAST_PID"
}

# gm_bg_stop_all: stop every gm_bg helper still running (by its PID; SIGTERM first so that
# `timeout` passes it on to its child) and reap it.
gm_bg_stop_all() {
    local pid
    for pid in $GM_BG_PIDS; do
        gm_is_ours "$pid" && kill -TERM "$pid" 2>/dev/null
    done
    for pid in $GM_BG_PIDS; do
        gm_kill "$pid"
    done
    GM_BG_PIDS=""
}

# gm_perl [ARGS...]: run perl with GmRaw loaded and strict/warnings on; script on stdin or -e.
gm_perl() {
    perl -I"$GM_HARNESS_DIR" -Mstrict -Mwarnings -MGmRaw "$@"
}

# gm_admin CMD: one admin text command on a fresh connection; prints the raw reply.
gm_admin() {
    gm_perl -e 'print GmRaw::admin_once($ARGV[0], list => ($ARGV[0] !~ /^(cancel|create|drop|maxqueue|getpid|version|verbose)/i));' "$1"
}

# gm_smoke: fail unless the server still completes a normal job end to end.
gm_smoke() {
    gm_assert_alive
    gm_perl -e 'smoke_job()' || gm_fail "server no longer serves a normal job ($*)"
}

# gm_wait_file FILE SECS: wait until FILE exists and is non-empty.
gm_wait_file() {
    local f=$1 secs=$2 i
    for i in $(seq 1 $((secs * 20))); do
        [ -s "$f" ] && return 0
        sleep 0.05
    done
    return 1
}

# gm_wait_pid PID SECS: wait for a gm_bg child to exit; returns its status, or 124 on timeout.
gm_wait_pid() {
    local pid=$1 secs=$2 i
    for i in $(seq 1 $((secs * 20))); do
        if ! gm_is_ours "$pid"; then
            wait "$pid"
            return $?
        fi
        sleep 0.05
    done
    return 124
}

# gm_wait_workers FUNC N SECS: wait until `status` shows at least N workers for FUNC.
gm_wait_workers() {
    gm_perl -e '
        my ($f, $n, $secs) = @ARGV;
        my $c = GmRaw->new(name => "admin");
        exit(wait_until($secs, sub { my $r = $c->status_row($f); $r && $r->[2] >= $n }) ? 0 : 1);
    ' "$1" "$2" "$3" || gm_fail "no $2 worker(s) registered for $1 within $3 s"
}

# gm_cleanup: stop helpers and servers we started (by PID), report a dead server, remove GM_TMP.
gm_cleanup() {
    local rc=$? pid f
    trap - EXIT INT TERM HUP
    gm_bg_stop_all
    if [ -n "$GM_PID" ] && ! gm_is_ours "$GM_PID" && [ "$GM_TERMINATED" = 0 ]; then
        echo "FAIL: server pid $GM_PID died during the test" >&2
        tail -n 5 "$GM_DIR/stderr" >&2 2>/dev/null
        rc=1
    fi
    for pid in $GM_SERVER_PIDS; do
        gm_kill "$pid"
    done
    # sanitizer builds (make test-asan, test-tsan) report on stderr without always dying
    for f in "$GM_TMP"/server.*/stderr; do
        if grep -qE "ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|runtime error:" "$f" 2>/dev/null; then
            echo "FAIL: sanitizer report in $f" >&2
            rc=1
        fi
    done
    if [ "$rc" != 0 ]; then
        for f in "$GM_TMP"/server.*/stderr "$GM_LOG"; do
            [ -s "$f" ] || continue
            echo "--- last lines of $f:" >&2
            tail -n 15 "$f" >&2
        done
    fi
    if [ "${GM_KEEP:-0}" = 1 ]; then
        echo "# kept $GM_TMP" >&2
    else
        rm -rf "$GM_TMP"
    fi
    exit "$rc"
}

trap gm_cleanup EXIT
trap 'GM_TERMINATED=1; echo "# terminated (SIGTERM)" >&2; exit 143' TERM
trap 'GM_TERMINATED=1; exit 130' INT
trap 'GM_TERMINATED=1; exit 129' HUP

# lib.sh - sourceable helpers for the tools tests: the harness (throwaway servers on 127.0.0.1,
# stopped by PID) plus our tools. Owns nothing beyond what the harness owns.
#   . "$(dirname "$0")/lib.sh"
#   gm_start; g ARGS...            # our gearman against the current server ($GM_PORT)
#   ga ARGS...                     # our gearadmin against it
#   tl_worker FUNC [ARGS...]       # our worker for FUNC in the background, registered on return
#   tl_eq WHAT ACTUAL EXPECTED     # fail unless equal
# Env: BUILD_DIR (our build/), GEARMAND_BIN (the server under test; set by run.sh).
. "$(dirname "$0")/../harness/gearmand.sh"

: "${BUILD_DIR:=$GM_ROOT/build}"
G=$BUILD_DIR/gearman
A=$BUILD_DIR/gearadmin
[ -x "$G" ] && [ -x "$A" ] || gm_fail "$G or $A is missing (run make)"
unset GEARMAN_SERVER

# g: our gearman client/worker against the current server, bounded in time.
g() {
    timeout 30 "$G" -h 127.0.0.1 -p "$GM_PORT" "$@"
}

# ga: our gearadmin against the current server.
ga() {
    timeout 30 "$A" -h 127.0.0.1 -p "$GM_PORT" "$@"
}

# tl_worker FUNC [GEARMAN-ARGS...]: start `gearman -w -f FUNC ARGS` on the current server and wait
# until the server counts its registration. PID in GM_LAST_PID (stopped by the cleanup).
tl_worker() {
    local f=$1
    shift
    local before
    before=$(gm_perl -e 'my $r = GmRaw->new(name => "a")->status_row($ARGV[0]); print $r ? $r->[2] : 0' "$f")
    gm_bg "$G" -w -h 127.0.0.1 -p "$GM_PORT" -f "$f" "$@"
    gm_wait_workers "$f" $((before + 1)) 10
}

# tl_eq WHAT ACTUAL EXPECTED: fail with both values unless they are equal.
tl_eq() {
    [ "$2" = "$3" ] || gm_fail "$1: expected '$3', got '$2'"
}

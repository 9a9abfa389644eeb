#!/bin/bash
# test_errors.sh - non-zero exits: no server (refused), -t with no worker for a foreground job, a
# server that accepts but never answers (client, worker and gearadmin), usage errors.
. "$(dirname "$0")/lib.sh"

tmp=$GM_TMP

# elapsed_ms CMD...: run CMD, print "<exit status> <milliseconds>"
elapsed_ms() {
    local t0 t1 rc
    t0=$(date +%s%N)
    "$@" >/dev/null 2>"$tmp/stderr"
    rc=$?
    t1=$(date +%s%N)
    echo "$rc $(((t1 - t0) / 1000000))"
}

# usage
"$G" >/dev/null 2>"$tmp/err" && gm_fail "no -f must fail"
grep -q "No Functions were provided" "$tmp/err" || gm_fail "usage error text: $(cat "$tmp/err")"
"$G" -H | grep -q "^Client mode:" || gm_fail "-H prints the help on stdout"
"$G" -f x -p notaport x 2>/dev/null && gm_fail "a bad port must fail"
"$G" -f x -Z 2>/dev/null && gm_fail "an unknown option must fail"
"$A" >/dev/null 2>"$tmp/err" && gm_fail "gearadmin without an action must fail"
grep -q "No option execution operation given." "$tmp/err" || gm_fail "gearadmin: $(cat "$tmp/err")"
"$A" --help | grep -q -- "--status" || gm_fail "gearadmin --help"
"$A" --bogus 2>/dev/null && gm_fail "gearadmin: unknown option must fail"

# nothing listens: the client, the worker and gearadmin fail fast with a message
port=$(gm_free_port)
read -r rc ms < <(elapsed_ms timeout 10 "$G" -h 127.0.0.1 -p "$port" -f f data)
[ "$rc" != 0 ] && [ "$ms" -lt 3000 ] || gm_fail "client, refused: exit $rc after $ms ms"
grep -q "refused" "$tmp/stderr" || gm_fail "client, refused: $(cat "$tmp/stderr")"
read -r rc ms < <(elapsed_ms timeout 10 "$G" -b -h 127.0.0.1 -p "$port" -f f data)
[ "$rc" != 0 ] || gm_fail "background client, refused: exit 0"
read -r rc ms < <(elapsed_ms timeout 10 "$G" -w -h 127.0.0.1 -p "$port" -f f)
[ "$rc" != 0 ] && [ "$ms" -lt 3000 ] || gm_fail "worker, refused: exit $rc after $ms ms"
read -r rc ms < <(elapsed_ms timeout 10 "$A" -h 127.0.0.1 -p "$port" --status)
[ "$rc" != 0 ] || gm_fail "gearadmin, refused: exit 0"
grep -q "Error connecting to 127.0.0.1" "$tmp/stderr" || gm_fail "gearadmin: $(cat "$tmp/stderr")"
GEARMAN_SERVER=127.0.0.1:$port timeout 10 "$G" -f f x 2>/dev/null && gm_fail "GEARMAN_SERVER ignored"

# a server that accepts connections and never answers
gm_bg perl -MIO::Socket::INET -e '
    my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ARGV[0], Listen => 16,
        ReuseAddr => 1) or die "listen: $!";
    my @keep;
    while (my $c = $s->accept) { push @keep, $c }' "$port"
for _ in $(seq 1 100); do
    perl -MIO::Socket::INET -e 'exit(IO::Socket::INET->new("127.0.0.1:$ARGV[0]") ? 0 : 1)' "$port" && break
    sleep 0.05
done
read -r rc ms < <(elapsed_ms timeout 10 "$G" -t 500 -h 127.0.0.1 -p "$port" -f f data)
[ "$rc" != 0 ] && [ "$ms" -ge 450 ] && [ "$ms" -lt 3000 ] ||
    gm_fail "client, silent server: exit $rc after $ms ms"
grep -q "within 500 ms" "$tmp/stderr" || gm_fail "client, silent server: $(cat "$tmp/stderr")"
read -r rc ms < <(elapsed_ms timeout 10 "$G" -t 500 -w -h 127.0.0.1 -p "$port" -f f)
[ "$rc" != 0 ] && [ "$ms" -lt 3000 ] || gm_fail "worker, silent server: exit $rc after $ms ms"
read -r rc ms < <(elapsed_ms timeout 10 "$G" -t 500 -b -h 127.0.0.1 -p "$port" -f f data)
[ "$rc" != 0 ] && [ "$ms" -lt 3000 ] || gm_fail "background client, silent server: exit $rc"

# a real server, but no worker for a foreground job: -t bounds the wait
gm_start
read -r rc ms < <(elapsed_ms timeout 10 "$G" -t 400 -h 127.0.0.1 -p "$GM_PORT" -f nobody data)
[ "$rc" != 0 ] && [ "$ms" -ge 350 ] && [ "$ms" -lt 3000 ] ||
    gm_fail "no worker: exit $rc after $ms ms"
# -n: the first line times out and the tool stops there
read -r rc ms < <(elapsed_ms timeout 10 sh -c "printf 'a\nb\nc\n' | '$G' -n -t 300 -h 127.0.0.1 -p $GM_PORT -f nobody")
[ "$rc" != 0 ] && [ "$ms" -lt 3000 ] || gm_fail "-n no worker: exit $rc after $ms ms"
# a worker with -t and nothing to do exits non-zero after the timeout
read -r rc ms < <(elapsed_ms timeout 10 "$G" -w -t 300 -h 127.0.0.1 -p "$GM_PORT" -f idle)
[ "$rc" != 0 ] && [ "$ms" -ge 250 ] && [ "$ms" -lt 3000 ] || gm_fail "idle worker -t: exit $rc"
gm_smoke "after the timeouts"
exit 0

#!/bin/bash
# test_stress.sh - 8 connections call every function at once for UDF_STRESS_SECS seconds (60
# by default, the issue's full minute): foreground calls with payloads of 0-64 KiB checked byte
# for byte, background calls, gman_sum, binary data, NULL arguments, timeouts, and
# server-list changes under load. Passes when every result is right, each connection's error
# count equals the errors it provoked on purpose, and mysqld neither crashed nor grew: RSS and
# open descriptors after the run match what they were after the warm-up.
. "$(dirname "$0")/lib.sh"
SECS=${UDF_STRESS_SECS:-60}
CONNS=8
RSS_SLACK_KIB=${UDF_STRESS_RSS_SLACK_KIB:-8192}
udf_start
gm_start
P=$GM_PORT
for i in 1 2 3 4; do
    worker "$P" --tag "w$i" --functions echo,len,num
done
wait_workers "$P" echo 4
q "SELECT gman_servers_set('127.0.0.1:$P'), gman_timeout_set(10000, 'global')" >/dev/null

ROUND="SELECT CONCAT_WS(' ',
  (SELECT SUM(gman_do('echo', p) <=> p) FROM
      (SELECT REPEAT(CHAR(65 + seq % 26), (seq * 7919 + @r) % 65536) p FROM seq_1_to_20) t),
  (SELECT COUNT(gman_do_background('len', CONCAT('bg', seq, '-', @r))) FROM seq_1_to_20),
  (SELECT gman_sum('num', seq) FROM seq_1_to_20),
  gman_do_high('len', UNHEX('00FF00')),
  gman_do_low('echo', 'low', CONCAT('u', @r)),
  HEX(gman_do_high_background('len', UNHEX('00FF7F80'))) IS NOT NULL,
  gman_do_low_background(NULL, 'x') IS NULL,
  gman_do('echo', NULL) IS NULL)"
ROUND_WANT="20 20 210 3 low 1 1 1"

# gm_sockets: mysqld's TCP connections to gearmand (sockets among its descriptors whose peer is
# 127.0.0.1:$P, from /proc/net/tcp).
gm_sockets() {
    perl -e '
        my ($pid, $port) = @ARGV;
        my %mine;
        for my $fd (glob "/proc/$pid/fd/*") {
            my $l = readlink $fd or next;
            $mine{$1} = 1 if $l =~ /^socket:\[(\d+)\]$/;
        }
        my $want = sprintf "0100007F:%04X", $port;
        my $n = 0;
        open my $t, "<", "/proc/net/tcp" or die;
        while (<$t>) {
            my @f = split " ";
            $n++ if $f[2] eq $want && $f[3] eq "01" && $mine{$f[9]};
        }
        print "$n\n";' "$MDB_PID" "$P"
}

# client N: statements until the deadline; writes "ok ROUNDS" or "FAIL ..." to $GM_TMP/stress.N
client() {
    local n=$1 deadline=$2 round=0 provoked=0 out want
    sess_open
    while [ "$(date +%s)" -lt "$deadline" ]; do
        round=$((round + 1))
        out=$(sess "SET @r = $n * 100000 + $round; $ROUND")
        [ "$out" = "$ROUND_WANT" ] || { echo "FAIL round $round: '$out'" >"$GM_TMP/stress.$n"; return; }
        provoked=$((provoked + 2))
        if [ $((round % 10)) = 0 ]; then   # a timeout: the client is dropped and made anew
            out=$(sess "SELECT gman_timeout_set(20), gman_do('nobody', 'x') IS NULL, gman_timeout_set(NULL)")
            want="20	1	10000"
            [ "$out" = "$want" ] || { echo "FAIL timeout round $round: '$out'" >"$GM_TMP/stress.$n"; return; }
            provoked=$((provoked + 1))
        fi
        if [ "$n" = 1 ] && [ $((round % 5)) = 0 ]; then   # settings change under load
            out=$(sess "SELECT gman_servers_set('127.0.0.1:$P')")
            [ "$out" = "127.0.0.1:$P" ] || { echo "FAIL servers_set: '$out'" >"$GM_TMP/stress.$n"; return; }
        fi
        if [ "$n" = 2 ] && [ $((round % 5)) = 0 ]; then   # a function moves between lists
            want="127.0.0.1:$P"
            [ $((round % 10)) = 0 ] && want="127.0.0.1:$P,127.0.0.1:$P"
            out=$(sess "SELECT gman_servers_set('$want', 'num')")
            [ "$out" = "$want" ] || { echo "FAIL servers_set num: '$out'" >"$GM_TMP/stress.$n"; return; }
        fi
    done
    out=$(sess "SELECT gman_error_count(), gman_last_error() IN ('gman_do row 1 (function ''echo''): workload is NULL', 'gman_do row 1 (function ''nobody''): timeout: no answer within 20 ms')")
    want="$provoked	1"
    [ "$out" = "$want" ] || { echo "FAIL errors: '$out', want '$want'" >"$GM_TMP/stress.$n"; return; }
    sess_close
    echo "ok $round" >"$GM_TMP/stress.$n"
}

deadline=$(($(date +%s) + SECS))
pids=""
for n in $(seq 1 $CONNS); do
    client "$n" "$deadline" &
    pids="$pids $!"
done
warm=$((SECS / 4 > 4 ? SECS / 4 : 4))
sleep "$warm"
rss1=$(rss_kib)
fds1=$(($(ls "/proc/$MDB_PID/fd" | wc -l) - $(gm_sockets)))
for pid in $pids; do
    wait "$pid"
done
rss2=$(rss_kib)
socks=$(gm_sockets)
fds2=$(($(ls "/proc/$MDB_PID/fd" | wc -l) - socks))

rounds=0
for n in $(seq 1 $CONNS); do
    r=$(cat "$GM_TMP/stress.$n" 2>/dev/null)
    case "$r" in
    ok*) rounds=$((rounds + ${r#ok })) ;;
    *) gm_fail "connection $n: ${r:-no result}" ;;
    esac
done
calls=$((rounds * 64))
gm_log "$CONNS connections, ${SECS}s: $rounds rounds, about $calls UDF calls"
gm_log "mysqld RSS after warm-up ${rss1} KiB, at the end ${rss2} KiB;" \
    "descriptors other than job server connections after warm-up ${fds1}, at the end ${fds2};" \
    "job server connections kept for reuse: $socks"
[ "$rounds" -ge $((CONNS * 3)) ] || gm_fail "only $rounds rounds in ${SECS}s"
[ "$rss2" -le $((rss1 + RSS_SLACK_KIB)) ] || gm_fail "mysqld grew from $rss1 to $rss2 KiB"
[ "$fds2" -le $((fds1 + 4)) ] || gm_fail "mysqld descriptors grew from $fds1 to $fds2"
# each thread (kept in mysqld's thread cache) may keep one idle client per server list in use:
# at most 3 sockets here (the list '127.0.0.1:P,127.0.0.1:P' opens two)
[ "$socks" -le $(((CONNS + 2) * 3)) ] || gm_fail "$socks connections to gearmand left open"
expect "no crash or error in mysqld's log" "$(grep -ciE 'got signal|assertion|\[ERROR\]' "$MDB_LOG")" "0"
gm_assert_alive

# t_too_big.sh - a job the database can never accept gets a prompt, clear ERROR QUEUE_ERROR (no
# retry loop, the connection stays usable) while the jobs submitted in the same moment are stored
# and acknowledged. MariaDB (max_allowed_packet = 1 MiB): a 2 MiB payload is refused, a 900 KiB one
# is stored. PostgreSQL has no such limit below 1 GiB: the 2 MiB job is stored, and the row it
# refuses is one whose function name is not valid UTF-8 (the database encoding).

t_too_big() {
    local b=$1 table=d_too_big owner="too-big-$1"
    d_start "$b" "$table" "$owner" || return 1
    local expect
    case $b in
    pg) expect="mid:A big:A badenc:E" ;;
    mysql) expect="mid:A big:E badenc:A" ;;
    esac
    gm_perl - "$expect" <<'EOF' || return 1
use Time::HiRes qw(time);
my %want = map { split /:/ } split ' ', $ARGV[0];
my @small = map { GmRaw->new(name => "small$_") } 0 .. 3;
my $big = GmRaw->new(name => 'big');
my $payload = sub { my ($u, $n) = @_; my $d = "$u\0"; $d . ('x' x ($n - length $d)) };
# everything in flight at once: 4 x 400 small submits and, in their midst, the three on 'big'
for my $i (0 .. 199) {
    $_->req(SUBMIT_JOB_BG, 'tb', "tb-$_->{name}-$i", $payload->("tb-$_->{name}-$i", 100))
        for @small;
}
my $t0 = time;
$big->req(SUBMIT_JOB_BG, 'tb', 'mid', $payload->('mid', 900 * 1024));
$big->req(SUBMIT_JOB_BG, 'tb', 'big', $payload->('big', 2 * 1024 * 1024));
$big->req(SUBMIT_JOB_BG, "tb\xff", 'badenc', $payload->('badenc', 100));
for my $i (200 .. 399) {
    $_->req(SUBMIT_JOB_BG, 'tb', "tb-$_->{name}-$i", $payload->("tb-$_->{name}-$i", 100))
        for @small;
}
for my $u (qw(mid big badenc)) {
    my $p = $big->read_pkt(10);
    my $dt = time - $t0;
    ok($p, "no reply for $u within 10 s ($big->{why})");
    if ($want{$u} eq 'A') {
        ok($p->{type} == JOB_CREATED, "$u: expected JOB_CREATED, got " . GmRaw::describe($p));
        print "# $u: stored, acknowledged after ", sprintf('%.2f', $dt), " s\n";
    } else {
        ok($p->{type} == ERROR, "$u: expected ERROR QUEUE_ERROR, got " . GmRaw::describe($p));
        my ($code, $text) = pargs($p, 2);
        is($code, 'QUEUE_ERROR', "$u: error code");
        ok(length($text) > 10, "$u: error text too short: " . esc($text));
        ok($dt < 3, sprintf("$u: refused only after %.1f s", $dt));
        print "# $u: refused after ", sprintf('%.2f', $dt), " s: $code $text\n";
    }
}
for my $c (@small) {
    for my $i (0 .. 399) {
        my $p = $c->read_pkt(10);
        ok($p && $p->{type} == JOB_CREATED,
            "$c->{name} submit $i: expected JOB_CREATED, got " . GmRaw::describe($p));
    }
}
# the connection that got the error goes on normally
$big->submit(SUBMIT_JOB_BG, 'tb', 'after', $payload->('after', 100));
print "# 1600 small jobs in the same moment: all acknowledged\n";
EOF
    local rows want_rows
    rows=$(d_sql "$b" "SELECT unique_key, LENGTH(data) FROM $(d_jobs_table "$b" "$table") WHERE unique_key NOT LIKE 'tb-%'
        ORDER BY unique_key" | tr '\t\n' ' ;')
    case $b in
    pg) want_rows="after 100;big 2097152;mid 921600;" ;;
    mysql) want_rows="after 100;badenc 100;mid 921600;" ;;
    esac
    [ "$rows" = "$want_rows" ] || { d_fail "stored rows: [$rows], want [$want_rows]"; return 1; }
    [ "$(d_sql "$b" "SELECT COUNT(*) FROM $(d_jobs_table "$b" "$table") WHERE unique_key LIKE 'tb-%'")" = 1600 ] ||
        { d_fail "not all 1600 small jobs are stored"; return 1; }
    # no retry loop: the writer is idle again, the log does not fill with attempts
    sleep 1
    local tries
    tries=$(grep -c 'queue:' "$GM_LOG")
    [ "$tries" -le 2 ] || { d_fail "$tries queue log lines (retrying?): $(grep 'queue:' "$GM_LOG" |
        tail -n 3)"; return 1; }
    gm_perl -e 'smoke_job()' || { d_fail "server does not serve after the refusal"; return 1; }
    d_info "table: the 1600 small jobs and the accepted big ones; $tries queue log lines"
}

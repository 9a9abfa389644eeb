# t_restore.sh - exact restore after kill -9 and restart: background jobs at all three
# priorities (submitted interleaved), FIFO within a priority, unique keys (up to 64 bytes),
# binary payloads with NULs, and epoch run times: one at 4102444800 (past 2038) stays delayed, one
# due a few seconds after the submit runs after the restart, when due, not before. A submit of a
# replayed job's unique key joins the replayed job (same handle, no new row).

t_restore() {
    local b=$1 table=d_restore owner="restore-$1" w=$D_WORK
    d_start "$b" "$table" "$owner" || return 1
    # submit: 5 jobs per priority, interleaved, then the two epoch jobs; expected grab order
    # (priority, then submit order) goes to $w/expect as "unique<TAB>hex payload" lines
    gm_perl - "$w/expect" <<'EOF' || return 1
use Time::HiRes qw(time);
my ($expect) = @ARGV;
my $c = GmRaw->new(name => 'client');
my @jobs;
my %type = (0 => SUBMIT_JOB_HIGH_BG, 1 => SUBMIT_JOB_BG, 2 => SUBMIT_JOB_LOW_BG);
my @prio = (2, 1, 0, 1, 2, 0, 0, 1, 2, 2, 1, 0, 1, 0, 2);
my %seq;
for my $i (0 .. $#prio) {
    my $p = $prio[$i];
    my $n = ++$seq{$p};
    my $u = ('high', 'normal', 'low')[$p] . "-$n";
    $u .= '-' . ('k' x (64 - length($u) - 1)) if $i == 4;    # a 64-byte key
    my $data = "\0$u\0\x01\x02\xff\0" . join('', map { chr(($_ * 37 + $i) % 256) } 0 .. 300) . "\0";
    $c->submit($type{$p}, 'rs', $u, $data);
    push @jobs, [$p, $i, $u, $data];
}
open(my $fh, '>', $expect) or die "$expect: $!";
for my $j (sort { $a->[0] <=> $b->[0] || $a->[1] <=> $b->[1] } @jobs) {
    print $fh "$j->[2]\t" . unpack('H*', $j->[3]) . "\n";
}
my $soon = int(time) + 4;
$c->submit(SUBMIT_JOB_EPOCH, 'rs', 'far', 4102444800, "far\0future");
$c->submit(SUBMIT_JOB_EPOCH, 'rs', 'soon', $soon, "soon\0due");
print $fh "#soon\t$soon\n";
EOF
    # the table as stored (before the crash)
    local rows
    rows=$(d_sql "$b" "SELECT unique_key, priority, when_to_run FROM $(d_jobs_table "$b" "$table")
        ORDER BY id" |
        tr '\t\n' ' ;')
    d_kill9
    local want
    want="low-1 2 0;normal-1 1 0;high-1 0 0;normal-2 1 0;low-2-$(printf 'k%.0s' $(seq 1 58)) 2 0;"
    want+="high-2 0 0;high-3 0 0;normal-3 1 0;low-3 2 0;low-4 2 0;normal-4 1 0;high-4 0 0;"
    want+="normal-5 1 0;high-5 0 0;low-5 2 0;far 1 4102444800;"
    [ "${rows%soon 1 *}" = "$want" ] ||
        { d_fail "rows before the restart: [$rows], want [$want soon 1 <epoch>]"; return 1; }

    d_start "$b" "$table" "$owner" || return 1
    gm_perl - "$w/expect" <<'EOF' || return 1
use Time::HiRes qw(time);
my ($expect) = @ARGV;
open(my $fh, '<', $expect) or die "$expect: $!";
my (@want, $soon);
while (<$fh>) {
    chomp;
    my ($u, $hex) = split /\t/;
    if ($u eq '#soon') { $soon = $hex; next; }
    push @want, [$u, pack('H*', $hex)];
}
ok(time < $soon - 1, sprintf('restart done %.1f s before the epoch job is due', $soon - time));
my $c = GmRaw->new(name => 'client');
my $w = GmRaw->new(name => 'worker');
# a replayed job's unique key is still taken: the submit joins it
my $joined = $c->submit(SUBMIT_JOB_HIGH_BG, 'rs', $want[0][0], 'other data');
$w->req(CAN_DO, 'rs');
for my $i (0 .. $#want) {
    my ($u, $data) = @{ $want[$i] };
    $w->req(GRAB_JOB_UNIQ);
    my $p = $w->expect(JOB_ASSIGN_UNIQ);
    my ($h, $f, $gu, $gd) = pargs($p, 4);
    is($gu, $u, "grab $i after restart: unique (priority, then FIFO)");
    is($f, 'rs', "grab $i: function");
    is($gd, $data, "grab $i ($u): payload");
    is($h, $joined, "handle of $u vs the submit that joined it") if $i == 0;
    $w->req(WORK_COMPLETE, $h, '');
}
$w->req(GRAB_JOB_UNIQ);
$w->expect(NO_JOB);    # the two epoch jobs are not due
$w->req(PRE_SLEEP);
my $p = $w->read_pkt($soon - time + 5);
ok($p && $p->{type} == NOOP, "NOOP when the epoch job is due; got " . GmRaw::describe($p));
my $at = time;
ok($at >= $soon - 0.01, sprintf('woken %.2f s before the job was due', $soon - $at));
$w->req(GRAB_JOB_UNIQ);
my ($h, $f, $u, $d) = pargs($w->expect(JOB_ASSIGN_UNIQ), 4);
is($u, 'soon', 'the due epoch job');
is($d, "soon\0due", 'its payload');
$w->req(WORK_COMPLETE, $h, '');
$w->req(GRAB_JOB_UNIQ);
$w->expect(NO_JOB);
$w->req(PRE_SLEEP);
$w->expect_silence(1.5);    # 4102444800 stays delayed
printf "# restored %d jobs in order; epoch job ran %.2f s after due; 2100-01-01 job still "
    . "delayed\n", scalar @want, $at - $soon;
EOF
    d_wait_sql "$b" "SELECT unique_key, priority, when_to_run FROM $(d_jobs_table "$b" "$table")" \
        "far	1	4102444800" 10 || return 1
    local st
    st=$(gm_admin status | awk -F'\t' '$1 == "rs" { print $2, $3 }')
    [ "$st" = "1 0" ] || { d_fail "status for rs: [$st], want 1 queued 0 running"; return 1; }
    d_info "table after: only the 4102444800 job, when_to_run intact; status shows it queued"
}

# t_unique.sh - unique keys with a durable queue: a second background submit with the same
# function and unique key while the first job is stored (queued, being stored, or running) gets
# the same handle and stores no second row; the same key under another function is another job;
# once the job is done the key is free again (new handle, new row); no row is left at the end.

t_unique() {
    local b=$1 table=d_unique owner="unique-$1" w=$D_WORK
    d_start "$b" "$table" "$owner" || return 1
    gm_perl - "$w/handles" <<'EOF' || return 1
my ($out) = @ARGV;
my $c1 = GmRaw->new(name => 'client1');
my $c2 = GmRaw->new(name => 'client2');
my $h1 = $c1->submit(SUBMIT_JOB_BG, 'uq', 'key-1', 'first');
is($c1->submit(SUBMIT_JOB_BG, 'uq', 'key-1', 'second'), $h1, 'same key, same connection');
is($c2->submit(SUBMIT_JOB_BG, 'uq', 'key-1', 'third'), $h1, 'same key, other connection');
my $other = $c2->submit(SUBMIT_JOB_BG, 'uq-other', 'key-1', 'other');
ok($other ne $h1, 'same key under another function is another job');
# three submits of key-2 in flight at once (the first is still being stored)
$c1->req(SUBMIT_JOB_BG, 'uq', 'key-2', 'a');
$c1->req(SUBMIT_JOB_BG, 'uq', 'key-2', 'b');
$c2->req(SUBMIT_JOB_BG, 'uq', 'key-2', 'c');
my @h2 = map { $_->expect(JOB_CREATED)->{data} } $c1, $c1, $c2;
ok($h2[0] eq $h2[1] && $h2[1] eq $h2[2], "submits while storing share a handle: @h2");
ok($h2[0] ne $h1, 'key-2 is another job than key-1');
open(my $fh, '>', $out) or die;
print $fh "$h1\n$h2[0]\n";
EOF
    local rows
    rows=$(d_sql "$b" "SELECT function_name, unique_key, COUNT(*) FROM $(d_jobs_table "$b" "$table")
        GROUP BY function_name, unique_key ORDER BY 1, 2" | tr '\t\n' ' ;')
    [ "$rows" = "uq key-1 1;uq key-2 1;uq-other key-1 1;" ] ||
        { d_fail "rows after the coalesced submits: [$rows]"; return 1; }

    gm_perl - "$w/handles" <<'EOF' || return 1
my ($in) = @ARGV;
open(my $fh, '<', $in) or die;
chomp(my @h = <$fh>);
my $c = GmRaw->new(name => 'client');
my $w = GmRaw->new(name => 'worker');
$w->req(CAN_DO, 'uq');
$w->req(GRAB_JOB_UNIQ);
my ($h, $f, $u, $d) = pargs($w->expect(JOB_ASSIGN_UNIQ), 4);
is("$h $u $d", "$h[0] key-1 first", 'key-1 runs once, with the first payload');
# while it runs, the key is still taken
is($c->submit(SUBMIT_JOB_BG, 'uq', 'key-1', 'during'), $h[0], 'submit while running');
$w->req(WORK_COMPLETE, $h, '');
$w->req(GRAB_JOB_UNIQ);
($h, $f, $u, $d) = pargs($w->expect(JOB_ASSIGN_UNIQ), 4);
# the first of the three to reach the server made the job: a (client1) or c (client2)
like("$h $u $d", qr/^\Q$h[1]\E key-2 [ac]\z/, 'key-2 runs once');
$w->req(WORK_COMPLETE, $h, '');
$w->req(GRAB_JOB_UNIQ);
$w->expect(NO_JOB);
# done: the key is free again
my $h3 = $c->submit(SUBMIT_JOB_BG, 'uq', 'key-1', 'again');
ok($h3 ne $h[0], "key-1 after completion: new handle ($h3 vs $h[0])");
$w->req(GRAB_JOB_UNIQ);
($h, $f, $u, $d) = pargs($w->expect(JOB_ASSIGN_UNIQ), 4);
is("$h $u $d", "$h3 key-1 again", 'the new key-1 job');
$w->req(WORK_COMPLETE, $h, '');
$w->req(GRAB_JOB_UNIQ);
$w->expect(NO_JOB);
# and uq-other's job
my $w2 = GmRaw->new(name => 'worker2');
$w2->req(CAN_DO, 'uq-other');
$w2->req(GRAB_JOB_UNIQ);
($h, $f, $u, $d) = pargs($w2->expect(JOB_ASSIGN_UNIQ), 4);
is("$f $u $d", "uq-other key-1 other", 'the other function\'s job');
$w2->req(WORK_COMPLETE, $h, '');
$w2->echo;
$w->echo;
EOF
    d_wait_sql "$b" "$(d_rows_sql "$b" "$table")" 0 10 || {
        d_fail "rows left: $(d_sql "$b" "SELECT function_name, unique_key FROM $(d_jobs_table "$b" "$table")" |
            tr '\n' ' ')"
        return 1
    }
    d_info "same key: one handle, one row (queued, storing, running); after completion a new" \
        "handle; no rows left"
}

#!/bin/bash
# test_admin_text.sh - the admin text protocol byte for byte: tabs, ".\n" list ends, "\r\n" on
# OK/ERR, "OK <x>\n" for getpid/version/verbose, the UNKNOWN_COMMAND text with no separator,
# argument errors, case-insensitive commands, lines split across writes, text and binary
# interleaved on one connection, maxqueue and "Job queue is full", six words closing the connection.
. "$(dirname "$0")/../harness/gearmand.sh"

gm_start

gm_perl <<'PERL' || gm_fail "admin text protocol"
my $pid = $ENV{GM_PID};
my $a = GmRaw->new(name => 'admin');
my $w = GmRaw->new(name => 'worker');
my $c = GmRaw->new(name => 'client');

is($a->admin("status"), ".\n", 'status on an empty server');
is($a->admin("create function txt_a"), "OK\r\n", 'create function (CRLF)');
is($a->admin("status"), "txt_a\t0\t0\t0\n.\n", 'status after create');

$w->req(SET_CLIENT_ID, 'my worker id');
$w->req(CAN_DO, 'txt_a');
$w->req(CAN_DO, 'txt_b');
$w->echo;
my $h1 = $c->submit(SUBMIT_JOB_BG, 'txt_a', 'ua', 'x');
my $h2 = $c->submit(SUBMIT_JOB_HIGH_BG, 'txt_a', 'ub', 'y');
$w->req(GRAB_JOB);
is((GmRaw::pargs($w->expect(JOB_ASSIGN), 3))[0], $h2, 'high job first');

my %rows = map { $_ => 1 } split /(?<=\n)/, $a->admin("status");
is(join('', sort keys %rows), ".\ntxt_a\t2\t1\t1\ntxt_b\t0\t0\t1\n", 'status rows');
%rows = map { $_ => 1 } split /(?<=\n)/, $a->admin("prioritystatus");
is(join('', sort keys %rows), ".\ntxt_a\t0\t1\t0\t1\ntxt_b\t0\t0\t0\t1\n", 'prioritystatus rows');

my $workers = $a->admin("workers");
like($workers, qr/\n\.\n\z|^\.\n\z/, 'workers ends in .\n');
like($workers, qr/^\d+ 127\.0\.0\.1 my worker id : txt_b txt_a\n/m, 'worker row, newest function first');
like($workers, qr/^\d+ 127\.0\.0\.1 - :\n/m, 'admin connection row (no id, bare colon)');

my $jobs = $a->admin("show jobs");
%rows = map { $_ => 1 } split /(?<=\n)/, $jobs;
is(join('', sort keys %rows), join('', sort(".\n", "$h1\t0\t0\t1\n", "$h2\t0\t0\t1\n")), 'show jobs');
%rows = map { $_ => 1 } split /(?<=\n)/, $a->admin("show unique jobs");
is(join('', sort keys %rows), ".\nua\nub\n", 'show unique jobs');

is($a->admin("getpid"), "OK $pid\n", 'getpid');
like($a->admin("version"), qr/^OK 1\.1\.\d+\S*\n\z/, 'version');
like($a->admin("verbose"), qr/^OK (FATAL|ALERT|CRITICAL|ERROR|WARNING|NOTICE|INFO|DEBUG)\n\z/, 'verbose');
like($a->admin("VERSION extra words"), qr/^OK 1\.1\./, 'command word case-insensitive, extras ignored');

# errors
is($a->admin("bogus"), "ERR UNKNOWN_COMMAND Unknown+server+commandbogus\r\n", 'unknown command');
is($a->admin("\r\n"), "ERR UNKNOWN_COMMAND Unknown+server+command\r\n", 'empty line');
is($a->admin("\n"), "ERR UNKNOWN_COMMAND Unknown+server+command\r\n", 'empty line (LF)');
is($a->admin(" status"), "ERR UNKNOWN_COMMAND Unknown+server+command\r\n", 'leading space');
is($a->admin("shutdown"), "ERR UNKNOWN_COMMAND Unknown+server+commandshutdown\r\n", 'no shutdown');
is($a->admin("show"), "ERR UNKNOWN_COMMAND Unknown+server+commandshow\r\n", 'show alone');
is($a->admin("show foo"), "ERR UNKNOWN_SHOW_ARGUMENTS\r\n", 'show foo');
is($a->admin("show jobs x"), "ERR UNKNOWN_SHOW_ARGUMENTS\r\n", 'show jobs x');
my $inc = 'ERR INVALID_ARGUMENTS An+incomplete+set+of+arguments+was+sent+to+this+command+';
is($a->admin("create function"), "${inc}create\r\n", 'create function without a name');
is($a->admin("create"), "${inc}create\r\n", 'create alone');
is($a->admin("drop function"), "${inc}drop\r\n", 'drop function without a name');
is($a->admin("maxqueue"), "${inc}maxqueue\r\n", 'maxqueue alone');
is($a->admin("drop function txt_none"), "ERR function not found\r\n", 'drop unknown');
is($a->admin("drop function txt_a"),
    "ERR there are still connected workers or executing clients\r\n", 'drop busy function');
is($a->admin("cancel job H:none:1"), "ERR UNKNOWN_JOB\r\n", 'cancel unknown job');
is($a->admin("cancel job $h1"), "OK\r\n", 'cancel queued job');
is($a->admin("create function txt_c"), "OK\r\n", 'create txt_c');
is($a->admin("drop function txt_c"), "OK\r\n", 'drop idle function');
ok($a->admin("status") !~ /^txt_c\t/m, 'txt_c gone after drop');

# one command split across writes; trailing spaces ignored; trailing CR removed
$a->raw("sta");
select(undef, undef, undef, 0.2);
$a->raw("tus   \r");
select(undef, undef, undef, 0.2);
$a->raw("\n");
like($a->read_admin_reply, qr/\n\.\n\z/, 'split status');

# binary and text interleaved on one connection
$a->req(ECHO_REQ, "bin\0ary");
$a->raw("getpid\r\n");
$a->req(ECHO_REQ, "again");
$a->expect_data(ECHO_RES, "bin\0ary");
is($a->read_line, "OK $pid\n", 'getpid between binary packets');
$a->expect_data(ECHO_RES, "again");

# maxqueue: limit 1 on txt_q with one job queued -> QUEUE_ERROR
is($a->admin("create function txt_q"), "OK\r\n", 'create txt_q');
is($a->admin("maxqueue txt_q 1"), "OK\r\n", 'maxqueue txt_q 1');
$c->submit(SUBMIT_JOB_BG, 'txt_q', 'q1', '');
$c->req(SUBMIT_JOB_BG, 'txt_q', 'q2', '');
$c->expect_error('QUEUE_ERROR', 'Job queue is full');
$c->submit(SUBMIT_JOB_BG, 'txt_q', 'q1', '');    # coalescing bypasses the limit
is($a->admin("maxqueue txt_q 0"), "OK\r\n", 'maxqueue back to unlimited');
$c->submit(SUBMIT_JOB_BG, 'txt_q', 'q2', '');
# per-priority limits "H N": high 3, normal 1, low unlimited; the count is all jobs of the function
is($a->admin("create function txt_p"), "OK\r\n", 'create txt_p');
is($a->admin("maxqueue txt_p 3 1"), "OK\r\n", 'maxqueue txt_p 3 1');
$c->submit(SUBMIT_JOB_BG, 'txt_p', 'p1', '');
$c->req(SUBMIT_JOB_BG, 'txt_p', 'p2', '');
$c->expect_error('QUEUE_ERROR', 'Job queue is full');
$c->submit(SUBMIT_JOB_HIGH_BG, 'txt_p', 'p3', '');
$c->submit(SUBMIT_JOB_LOW_BG, 'txt_p', 'p4', '');
$c->submit(SUBMIT_JOB_LOW_BG, 'txt_p', 'p5', '');
$c->req(SUBMIT_JOB_HIGH_BG, 'txt_p', 'p6', '');
$c->expect_error('QUEUE_ERROR', 'Job queue is full');
is(join(' ', @{ $a->status_row('txt_p') }), '4 0 0', 'txt_p holds four jobs');
is($a->admin("maxqueue txt_nonexistent 5"), "OK\r\n", 'maxqueue on an unknown function');
ok($a->admin("status") !~ /^txt_nonexistent\t/m, 'maxqueue creates no function');

# six words: the server closes the connection without a reply
my $six = GmRaw->new(name => 'six-words');
$six->raw("a b c d e f\r\n");
ok($six->wait_closed(5), 'six-word line closes the connection');
is($six->{before_close}, '', 'no reply before closing on six words');
$a->echo;
PERL

gm_smoke "after admin commands"
exit 0

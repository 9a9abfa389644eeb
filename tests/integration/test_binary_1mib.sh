#!/bin/bash
# test_binary_1mib.sh - a 1 MiB binary payload full of NUL bytes round-trips byte-exact:
# Perl Gearman::Client -> PHP echo worker, PHP client -> Perl echo worker, and raw sockets
# (SUBMIT_JOB / JOB_ASSIGN / WORK_DATA / WORK_COMPLETE / ECHO), compared by SHA-256.
. "$(dirname "$0")/../harness/gearmand.sh"

gm_start

# 1 MiB: every 7th byte NUL, the rest pseudo-random (seeded, so failures reproduce)
perl -e 'srand(4242); my $s = ""; for my $i (0 .. 1048575) { $s .= $i % 7 ? chr(int rand 256) : "\0" }
         binmode STDOUT; print $s' >"$GM_TMP/blob"
[ "$(wc -c <"$GM_TMP/blob")" = 1048576 ] || gm_fail "blob size"
want=$(sha256sum <"$GM_TMP/blob" | cut -d' ' -f1)

cat >"$GM_TMP/echo_worker.php" <<'PHP'
<?php
$w = new GearmanWorker();
$w->addServer('127.0.0.1', (int)getenv('GM_PORT'));
$w->addFunction('echo_php', function (GearmanJob $job) {
    file_put_contents(getenv('GM_TMP') . '/php_saw.sha', hash('sha256', $job->workload()));
    return $job->workload();
});
while ($w->work());
PHP
cat >"$GM_TMP/echo_worker.pl" <<'PERL'
use strict;
use warnings;
use Gearman::Worker;
use Digest::SHA qw(sha256_hex);
my $w = Gearman::Worker->new(job_servers => ["127.0.0.1:$ENV{GM_PORT}"]);
$w->register_function(echo_perl => sub {
    my $arg = $_[0]->arg;
    open my $fh, '>', "$ENV{GM_TMP}/perl_saw.sha" or die;
    print $fh sha256_hex($arg);
    close $fh;
    return $arg;
});
$w->work while 1;
PERL
gm_bg php "$GM_TMP/echo_worker.php"
gm_bg perl "$GM_TMP/echo_worker.pl"
gm_wait_workers echo_php 1 10
gm_wait_workers echo_perl 1 10

# Perl client -> PHP worker
timeout 30 perl -MGearman::Client -e '
    local $/; open my $in, "<", "$ENV{GM_TMP}/blob" or die; binmode $in; my $blob = <$in>;
    my $c = Gearman::Client->new(job_servers => ["127.0.0.1:$ENV{GM_PORT}"]);
    my $r = $c->do_task(echo_php => \$blob, { timeout => 25 }) or die "FAIL: no result\n";
    open my $out, ">", "$ENV{GM_TMP}/perl_client.out" or die; binmode $out; print $out $$r;
' || gm_fail "Perl client to PHP worker"
[ "$(cat "$GM_TMP/php_saw.sha")" = "$want" ] || gm_fail "PHP worker received different bytes"
got=$(sha256sum <"$GM_TMP/perl_client.out" | cut -d' ' -f1)
[ "$got" = "$want" ] || gm_fail "Perl client got $(wc -c <"$GM_TMP/perl_client.out") bytes, sha $got, want $want"

# PHP client -> Perl worker
timeout 30 php -r '
    $c = new GearmanClient(); $c->addServer("127.0.0.1", (int)getenv("GM_PORT"));
    $blob = file_get_contents(getenv("GM_TMP") . "/blob");
    $r = $c->doNormal("echo_perl", $blob);
    if ($c->returnCode() != GEARMAN_SUCCESS) { fwrite(STDERR, "FAIL: " . $c->error() . "\n"); exit(1); }
    file_put_contents(getenv("GM_TMP") . "/php_client.out", $r);
' || gm_fail "PHP client to Perl worker"
[ "$(cat "$GM_TMP/perl_saw.sha")" = "$want" ] || gm_fail "Perl worker received different bytes"
got=$(sha256sum <"$GM_TMP/php_client.out" | cut -d' ' -f1)
[ "$got" = "$want" ] || gm_fail "PHP client got $(wc -c <"$GM_TMP/php_client.out") bytes, sha $got, want $want"

# raw sockets: exact packets both ways
gm_perl <<'PERL' || gm_fail "raw 1 MiB"
use Digest::SHA qw(sha256_hex);
open my $in, '<', "$ENV{GM_TMP}/blob" or die; binmode $in; local $/; my $blob = <$in>;
my $c = GmRaw->new(name => 'client');
my $w = GmRaw->new(name => 'worker');
$c->echo($blob);
my $h = $c->submit(SUBMIT_JOB, 'echo_raw', 'big', $blob);
$w->req(CAN_DO, 'echo_raw');
$w->req(GRAB_JOB_UNIQ);
my $a = $w->expect(JOB_ASSIGN_UNIQ, timeout => 20);
my ($ah, $af, $au, $ad) = GmRaw::pargs($a, 4);
is("$ah $af $au", "$h echo_raw big", 'JOB_ASSIGN_UNIQ header fields');
is(sha256_hex($ad), sha256_hex($blob), 'worker payload sha256');
$w->req(WORK_DATA, $h, $blob);
$w->req(WORK_COMPLETE, $h, scalar reverse $blob);
my $d = $c->expect(WORK_DATA, timeout => 20);
is(sha256_hex($d->{data}), sha256_hex("$h\0$blob"), 'WORK_DATA sha256');
my $r = $c->expect(WORK_COMPLETE, timeout => 20);
is(sha256_hex($r->{data}), sha256_hex("$h\0" . reverse $blob), 'WORK_COMPLETE sha256');
PERL

gm_assert_alive
exit 0

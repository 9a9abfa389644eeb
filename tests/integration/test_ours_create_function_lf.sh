#!/bin/bash
# test_ours_create_function_lf.sh - ours only (gearmand 1.1.20 assumes CRLF and creates "fo" for
# "create function foo\n"): admin lines ending in a bare LF keep their last character.
. "$(dirname "$0")/../harness/gearmand.sh"

gm_start

gm_perl <<'PERL' || gm_fail "create function with LF"
my $a = GmRaw->new(name => 'admin');
is($a->admin("create function foo\n"), "OK\r\n", 'create function foo\n');
is($a->admin("status\n"), "foo\t0\t0\t0\n.\n", 'status shows foo, not fo');
is($a->admin("create function bar\r\n"), "OK\r\n", 'create function bar\r\n');
my %rows = map { $_ => 1 } split /(?<=\n)/, $a->admin("status\n");
is(join('', sort keys %rows), ".\nbar\t0\t0\t0\nfoo\t0\t0\t0\n", 'status shows bar and foo');
is($a->admin("drop function foo\n"), "OK\r\n", 'drop function foo\n');
is($a->admin("status\n"), "bar\t0\t0\t0\n.\n", 'foo dropped');
is($a->admin("cancel job H:none:1\n"), "ERR UNKNOWN_JOB\r\n", 'cancel with LF');
PERL

gm_assert_alive
exit 0

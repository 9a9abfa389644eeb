# t_takeover.sh - a queue table made by gearmand 1.1 (its own CREATE TABLE, with rows: three
# priorities, binary payloads, a past when_to_run, NULL data and when_to_run) is taken over by our
# server at start: every row becomes a job and runs exactly once with its payload; the old table
# is kept as <table>_gearmand; a restart afterwards runs nothing again.

t_takeover() {
    local b=$1 table=gmq_takeover owner="takeover-$1" n=300 w=$D_WORK
    case $b in
    pg) d_sql pg "CREATE TABLE $table (unique_key VARCHAR(64), function_name VARCHAR(255),
            priority INTEGER, data BYTEA, when_to_run INTEGER, UNIQUE (unique_key, function_name));
        INSERT INTO $table SELECT 'tk-' || i, 'tk', i % 3,
            convert_to('tk-' || i, 'UTF8') || '\\x00ff00'::bytea ||
                convert_to(repeat('p', i), 'UTF8'),
            CASE WHEN i % 10 = 0 THEN 1700000000 ELSE 0 END FROM generate_series(1, $n) i;
        INSERT INTO $table VALUES ('tk-null', 'tk', 1, NULL, NULL)" || return 1 ;;
    mysql) d_sql mysql "CREATE TABLE $table (unique_key VARCHAR(64), function_name VARCHAR(255),
            priority INT, data LONGBLOB, when_to_run INT, UNIQUE KEY (unique_key, function_name));
        INSERT INTO $table SELECT CONCAT('tk-', seq), 'tk', seq % 3,
            CONCAT('tk-', seq, X'00FF00', REPEAT('p', seq)),
            IF(seq % 10 = 0, 1700000000, 0) FROM seq_1_to_$n;
        INSERT INTO $table VALUES ('tk-null', 'tk', 1, NULL, NULL)" || return 1 ;;
    esac
    d_sql "$b" "SELECT unique_key FROM $table" | LC_ALL=C sort >"$w/rows"
    d_start "$b" "$table" "$owner" || return 1
    perl "$DTOOL" drain --port "$GM_PORT" --func tk --conns 2 --grabs 8 --expect $((n + 1)) \
        --linger 1.5 --idle 10 --hex --out "$w/run" >"$w/run.sum" ||
        { d_fail "drain: $(cat "$w/run.sum")"; return 1; }
    d_runs "$w/run" >"$w/ran"
    cmp -s "$w/ran" "$w/rows" || {
        d_fail "$(d_count "$w/ran") runs for $(d_count "$w/rows") rows;" \
        "missing: $(d_minus "$w/rows" "$w/ran" | head -n 3 | tr '\n' ' ')" \
        "repeated: $(d_dups "$w/ran" | head -n 3 | tr '\n' ' ')"; return 1; }
    # payloads byte for byte
    local bad
    bad=$(awk -F'\t' '$1 == "G" { print $3, $5 }' "$w/run" | perl -ne '
        my ($u, $hex) = split; $hex //= "";
        my $want = $u eq "tk-null" ? "" : do { my ($i) = $u =~ /(\d+)/;
            unpack("H*", "$u\0\xff\0" . ("p" x $i)) };
        print "$u " if $hex ne $want;')
    [ -z "$bad" ] || { d_fail "payloads changed for: $bad"; return 1; }
    d_wait_sql "$b" "$(d_rows_sql "$b" "$table")" 0 10 || return 1
    local kept
    kept=$(d_sql "$b" "SELECT COUNT(*) FROM ${table}_gearmand")
    [ "$kept" = $((n + 1)) ] ||
        { d_fail "${table}_gearmand has [$kept] rows, want $((n + 1))"; return 1; }
    d_info "gearmand table: $((n + 1)) rows; each ran once with its payload; kept as" \
        "${table}_gearmand ($kept rows)"

    # a restart takes nothing over twice and replays nothing
    d_kill9
    d_start "$b" "$table" "$owner" || return 1
    perl "$DTOOL" drain --port "$GM_PORT" --func tk --conns 1 --idle 1.5 --out "$w/run2" \
        >"$w/run2.sum" || { d_fail "drain 2: $(cat "$w/run2.sum")"; return 1; }
    [ ! -s "$w/run2" ] ||
        { d_fail "jobs ran again after a restart: $(head -n 3 "$w/run2")"; return 1; }
    d_info "restart after the takeover: nothing runs again"
}

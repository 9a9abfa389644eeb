#!/bin/bash
# mysql_udf.sh - rows per second of the MySQL/MariaDB ways to create Gearman jobs from SQL, beside
# a plain INSERT of the same rows, in one run against a throwaway MariaDB (tests/harness/) and
# build/gearmand on free loopback ports:
#   plain INSERT                 INSERT ... SELECT of N rows into a table without triggers
#   transactional, via trigger   the same INSERT into a table whose AFTER INSERT trigger calls
#                                gman_enqueue() (a row in gearman_queue, in the same transaction)
#   gearmand claims them         from that COMMIT until gearmand -q MySQL has claimed all N rows
#   transactional, direct        the same with a trigger that INSERTs into gearman_queue itself
#                                (no stored function: what gman_enqueue's call costs)
#   gman_do_background           SELECT COUNT(gman_do_background(...)) over N rows: one statement,
#                                one job per row, to gearmand with its memory queue
#   UDF, via trigger             the INSERT into a table whose trigger calls gman_do_background
# Each figure is the median of REPEAT runs (timed inside the server: NOW(6) before and after the
# statement); queues start empty each time. No workers run: this measures submission only.
# Env: BUILD_DIR (default ./build), N (rows, 100000), REPEAT (3), QUICK=1 (N=20000, REPEAT=1).
# Output: the table on stdout, also in $BUILD_DIR/bench/mysql_udf.txt.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$root/build}
if [ "${QUICK:-0}" = 1 ]; then
    N=${N:-20000} REPEAT=${REPEAT:-1}
else
    N=${N:-100000} REPEAT=${REPEAT:-3}
fi
SO=$BUILD_DIR/libgearman_mysql_udf.so
GEARMAND_BIN=${GEARMAND_BIN:-$BUILD_DIR/gearmand}
for f in "$SO" "$GEARMAND_BIN"; do
    [ -e "$f" ] || { echo "mysql_udf.sh: $f missing (make all)" >&2; exit 1; }
done
export GEARMAND_BIN
. "$root/tests/harness/gearmand.sh"
. "$root/tests/harness/mariadb.sh"

mkdir -p "$GM_TMP/plugin" && cp "$SO" "$GM_TMP/plugin/"
mdb_start --plugin-dir="$GM_TMP/plugin" --max-allowed-packet=64M \
    --innodb-buffer-pool-size=512M --innodb-log-file-size=256M || gm_fail "MariaDB did not start"
mdb_root <"$root/sql/mysql/udf_install.sql" || gm_fail "udf_install.sql failed"
sql() { mdb_sql "$@"; }
sql <"$root/sql/mysql/queue.sql" && sql <"$root/sql/mysql/tx_install.sql" || gm_fail "SQL setup"
sql <<'EOF_SQL' || gm_fail "tables"
CREATE TABLE plain_rows (id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY, payload VARCHAR(64) NOT NULL) ENGINE=InnoDB;
CREATE TABLE tx_rows LIKE plain_rows;
CREATE TABLE udf_rows LIKE plain_rows;
CREATE TABLE direct_rows LIKE plain_rows;
CREATE TRIGGER tx_rows_job AFTER INSERT ON tx_rows FOR EACH ROW
  DO gman_enqueue('bench_tx', NEW.payload, NULL, NULL);
CREATE TRIGGER direct_rows_job AFTER INSERT ON direct_rows FOR EACH ROW
  INSERT INTO gearman_queue (function_name, data) VALUES ('bench_direct', NEW.payload);
CREATE TRIGGER udf_rows_job AFTER INSERT ON udf_rows FOR EACH ROW
  SET @h = gman_do_background('bench_udf', NEW.payload);
EOF_SQL

MEM_PORT="" MEM_PID="" Q_PID=""
# servers: fresh gearmand instances: memory queue (UDF paths) and -q MySQL (claims the table)
servers() {
    [ -n "$MEM_PID" ] && gm_kill "$MEM_PID"
    [ -n "$Q_PID" ] && gm_kill "$Q_PID"
    gm_start -q memory
    MEM_PORT=$GM_PORT MEM_PID=$GM_PID
    gm_start -q MySQL --mysql-host 127.0.0.1 --mysql-port "$MDB_PORT" --mysql-user "$MDB_USER" \
        --mysql-password "$MDB_PASSWORD" --mysql-db "$MDB_DB" --queue-poll-ms 100
    Q_PID=$GM_PID
    sql -e "SELECT gman_servers_set('127.0.0.1:$MEM_PORT'), gman_timeout_set(30000, 'global')" \
        >/dev/null || gm_fail "gman_servers_set"
}

# timed SQL: microseconds the statement(s) took inside the server
timed() {
    sql -e "SET @t0 = NOW(6); $1; SELECT TIMESTAMPDIFF(MICROSECOND, @t0, NOW(6))" | tail -n 1
}

# claim_wait: microseconds until gearmand has claimed every row of gearman_queue
claim_wait() {
    local t0 left
    t0=$(date +%s%N)
    for _ in $(seq 1 6000); do
        left=$(sql -e "SELECT COUNT(*) FROM gearman_queue WHERE claimed_by IS NULL")
        [ "$left" = 0 ] && { echo $((($(date +%s%N) - t0) / 1000)); return; }
        sleep 0.05
    done
    gm_fail "gearmand did not claim the rows: $left left"
}

ROWS="SELECT CONCAT('row-', seq) FROM seq_1_to_$N"
declare -A us
for r in $(seq 1 "$REPEAT"); do
    servers
    sql -e "TRUNCATE plain_rows; TRUNCATE tx_rows; TRUNCATE udf_rows; TRUNCATE direct_rows;
        TRUNCATE gearman_queue"
    us[plain.$r]=$(timed "INSERT INTO plain_rows (payload) $ROWS")
    us[tx.$r]=$(timed "INSERT INTO tx_rows (payload) $ROWS")
    us[claim.$r]=$(claim_wait)
    n=$(sql -e "SELECT COUNT(*) FROM gearman_queue")
    [ "$n" = "$N" ] || gm_fail "transactional path queued $n rows, want $N"
    us[direct.$r]=$(timed "INSERT INTO direct_rows (payload) $ROWS")
    claim_wait >/dev/null   # let gearmand finish claiming before the next figure
    out=$(sql -e "SET @t0 = NOW(6); SELECT COUNT(gman_do_background('bench_bg', CONCAT('row-', seq))) FROM seq_1_to_$N; SELECT TIMESTAMPDIFF(MICROSECOND, @t0, NOW(6)), gman_error_count()")
    [ "$(echo "$out" | head -n 1)" = "$N" ] || gm_fail "gman_do_background: $(echo "$out" | head -n 1) of $N handles"
    us[bg.$r]=$(echo "$out" | tail -n 1 | cut -f 1)
    us[udf.$r]=$(timed "INSERT INTO udf_rows (payload) $ROWS")
    q=$("$BUILD_DIR/gearadmin" -h 127.0.0.1 -p "$MEM_PORT" --status |
        awk -F'\t' '$1 ~ /^bench_(bg|udf)$/ { n += $2 } END { print n + 0 }')
    [ "$q" = $((2 * N)) ] || gm_fail "gearmand holds $q UDF jobs, want $((2 * N))"
    echo "# run $r: plain ${us[plain.$r]} us, tx ${us[tx.$r]} us, claim ${us[claim.$r]} us," \
        "direct ${us[direct.$r]} us, bg ${us[bg.$r]} us, udf trigger ${us[udf.$r]} us" >&2
done

# median KEY: median over the runs of us[KEY.r]
median() {
    local r
    for r in $(seq 1 "$REPEAT"); do echo "${us[$1.$r]}"; done | sort -n |
        awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

out=$BUILD_DIR/bench/mysql_udf.txt
mkdir -p "$(dirname "$out")"
plain=$(median plain)
{
    echo "MariaDB $(sql -e 'SELECT VERSION()'), $N rows, median of $REPEAT run(s), $(nproc) CPUs"
    printf '%-52s %9s %10s %8s\n' "path" "seconds" "rows/s" "vs plain"
    for k in plain tx claim direct bg udf; do
        case $k in
        plain) label="plain INSERT ... SELECT (no trigger)" ;;
        tx) label="INSERT + trigger gman_enqueue (transactional)" ;;
        claim) label="  then gearmand -q MySQL claims all rows" ;;
        direct) label="INSERT + trigger INSERT INTO gearman_queue" ;;
        bg) label="SELECT gman_do_background(...) (one statement)" ;;
        udf) label="INSERT + trigger gman_do_background (UDF)" ;;
        esac
        m=$(median "$k")
        awk -v l="$label" -v m="$m" -v n="$N" -v p="$plain" \
            'BEGIN { printf "%-52s %9.3f %10.0f %7.2fx\n", l, m / 1e6, n / (m / 1e6), p / m }'
    done
} | tee "$out"

-- udf_install.sql - create every function of the gearman UDF plugin (libgearman_mysql_udf.so,
-- copied into the server's plugin_dir by `make install-udf`). Run as a user with INSERT on
-- mysql.func:  mariadb < sql/mysql/udf_install.sql
-- Existing definitions (e.g. from the original gearman-mysql-udf) are replaced, so the script can
-- be run again after an upgrade. See udf_mysql/README.md for what each function does.

-- The original functions, with the same arguments and results.
DROP FUNCTION IF EXISTS gman_do;
CREATE FUNCTION gman_do RETURNS STRING SONAME 'libgearman_mysql_udf.so';
DROP FUNCTION IF EXISTS gman_do_high;
CREATE FUNCTION gman_do_high RETURNS STRING SONAME 'libgearman_mysql_udf.so';
DROP FUNCTION IF EXISTS gman_do_low;
CREATE FUNCTION gman_do_low RETURNS STRING SONAME 'libgearman_mysql_udf.so';
DROP FUNCTION IF EXISTS gman_do_background;
CREATE FUNCTION gman_do_background RETURNS STRING SONAME 'libgearman_mysql_udf.so';
DROP FUNCTION IF EXISTS gman_do_high_background;
CREATE FUNCTION gman_do_high_background RETURNS STRING SONAME 'libgearman_mysql_udf.so';
DROP FUNCTION IF EXISTS gman_do_low_background;
CREATE FUNCTION gman_do_low_background RETURNS STRING SONAME 'libgearman_mysql_udf.so';
DROP FUNCTION IF EXISTS gman_sum;
CREATE AGGREGATE FUNCTION gman_sum RETURNS INTEGER SONAME 'libgearman_mysql_udf.so';
DROP FUNCTION IF EXISTS gman_servers_set;
CREATE FUNCTION gman_servers_set RETURNS STRING SONAME 'libgearman_mysql_udf.so';

-- New: timeouts and errors.
DROP FUNCTION IF EXISTS gman_timeout_set;
CREATE FUNCTION gman_timeout_set RETURNS INTEGER SONAME 'libgearman_mysql_udf.so';
DROP FUNCTION IF EXISTS gman_last_error;
CREATE FUNCTION gman_last_error RETURNS STRING SONAME 'libgearman_mysql_udf.so';
DROP FUNCTION IF EXISTS gman_error_count;
CREATE FUNCTION gman_error_count RETURNS INTEGER SONAME 'libgearman_mysql_udf.so';
DROP FUNCTION IF EXISTS gman_clear_errors;
CREATE FUNCTION gman_clear_errors RETURNS INTEGER SONAME 'libgearman_mysql_udf.so';

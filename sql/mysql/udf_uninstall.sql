-- udf_uninstall.sql - drop every function of the gearman UDF plugin (udf_install.sql made them).
-- The settings file gearman_udf.conf in the data directory is left in place; delete it by hand
-- if the server lists should be forgotten.
DROP FUNCTION IF EXISTS gman_do;
DROP FUNCTION IF EXISTS gman_do_high;
DROP FUNCTION IF EXISTS gman_do_low;
DROP FUNCTION IF EXISTS gman_do_background;
DROP FUNCTION IF EXISTS gman_do_high_background;
DROP FUNCTION IF EXISTS gman_do_low_background;
DROP FUNCTION IF EXISTS gman_sum;
DROP FUNCTION IF EXISTS gman_servers_set;
DROP FUNCTION IF EXISTS gman_timeout_set;
DROP FUNCTION IF EXISTS gman_last_error;
DROP FUNCTION IF EXISTS gman_error_count;
DROP FUNCTION IF EXISTS gman_clear_errors;

-- mysql_trigger.sql - a MySQL/MariaDB trigger that sends rows to a Gearman background job, two
-- ways: transactionally through the durable queue table (gman_enqueue), and directly with the UDF
-- (gman_do_background).
--
-- Which to pick
--   Transactional, gman_enqueue (sql/mysql/tx_install.sql): the job is a row of gearman_queue
--   written in your transaction. It runs if and only if the transaction commits, after the row is
--   visible to the worker, and it survives a crash of mysqld or gearmand. No network call happens
--   inside the transaction. Costs: one more InnoDB row per job, and up to one poll interval of
--   latency (gearmand -q MySQL polls every 100 ms by default). Needs gearmand -q MySQL on this
--   database. Pick it when the job acts on the data: receipts, cache or search-index updates,
--   anything that must not run for a rolled-back row nor be lost for a committed one.
--
--   Direct, gman_do_background (the UDF plugin): submits to gearmand while the statement runs,
--   before COMMIT. The job may run before the row is visible to the worker, runs even if the
--   transaction rolls back, and is lost if gearmand is down (the row is still inserted; the
--   failure is recorded: SELECT gman_last_error()). Works with any gearmand and any queue. Pick
--   it for fire-and-forget work where an early, extra or missing job is harmless: metrics,
--   notifications, logging.
--
-- Setup, in the database that gearmand -q MySQL --mysql-db uses:
--   mariadb yourdb < sql/mysql/queue.sql          # or let gearmand create gearman_queue
--   mariadb yourdb < sql/mysql/tx_install.sql     # gman_enqueue()
--   make install-udf && mariadb < sql/mysql/udf_install.sql
--   mariadb -e "SELECT gman_servers_set('127.0.0.1:4730')"   # once; it is remembered
--   mariadb yourdb < sql/examples/mysql_trigger.sql

-- 1. Transactional: a receipt is sent for each committed order, exactly once.
CREATE TABLE IF NOT EXISTS orders (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  customer VARCHAR(100) NOT NULL,
  total DECIMAL(12, 2) NOT NULL
) ENGINE=InnoDB;

DROP TRIGGER IF EXISTS orders_send_receipt;
CREATE TRIGGER orders_send_receipt AFTER INSERT ON orders FOR EACH ROW
  DO gman_enqueue('send_receipt', NEW.id, CONCAT('order-', NEW.id), 'normal');

-- 2. Direct: count page views; a lost or extra count does no harm.
CREATE TABLE IF NOT EXISTS page_views (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  url VARCHAR(2048) NOT NULL,
  seen_at TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB;

-- The handle (or NULL on failure) lands in a session variable: the INSERT never fails because of
-- gearmand. To fail the INSERT instead, test it:
--   IF gman_do_background(...) IS NULL THEN
--     SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'gearman job not submitted';
--   END IF;
DROP TRIGGER IF EXISTS page_views_count;
CREATE TRIGGER page_views_count AFTER INSERT ON page_views FOR EACH ROW
  SET @gman_page_view_job = gman_do_background('count_page_view', NEW.url);

-- queue.sql - the durable queue table of gearmand's MySQL/MariaDB backend (-q MySQL); a public
-- interface: SQL may INSERT jobs into it, and they run once the inserting transaction commits.
-- See sql/mysql/README.md.
--
-- The server creates this table by itself when it is missing (--mysql-table, default
-- gearman_queue; "db.table" names another database). This file is compiled into the server, so
-- it is the one definition of the table: the server substitutes its quoted table name for the
-- one below. To create it by hand: mariadb yourdb < sql/mysql/queue.sql
--
-- Submitting a background job from SQL (inside any transaction; a ROLLBACK means it never runs):
--   INSERT INTO gearman_queue (function_name, unique_key, priority, data, when_to_run)
--   VALUES ('resize', 'img-42', 1, 'payload bytes', 0);
-- Leave claimed_by NULL: a server polls for committed unclaimed rows (every 100 ms by default),
-- claims them with SELECT ... FOR UPDATE SKIP LOCKED (MariaDB 10.6+, MySQL 8.0+), sets claimed_by
-- to its name and runs each once. The row is deleted when the job completes, fails or is
-- cancelled. Rows with claimed_by set belong to that server: do not change or delete them.
--
-- Columns:
--   id            insertion order; a restart replays a server's rows by priority, then id
--   function_name the Gearman function (bytes, compared exactly, up to 255 bytes)
--   unique_key    the Gearman unique key, '' for none (bytes, up to 64)
--   priority      0 high, 1 normal, 2 low (gearmand's numbers)
--   data          the job's payload (bytes)
--   when_to_run   epoch seconds to run at (64-bit), 0 = now
--   claimed_by    NULL = inserted by SQL and not yet claimed; otherwise the owning server's name
--   created_at    when the row was inserted (for people; the server does not read it)
--
-- A gearmand-made table of the same name (unique_key, function_name, priority, data, when_to_run)
-- is taken over at startup: its rows are copied into a new table of this shape, unclaimed, and the
-- old table is kept, renamed to <name>_gearmand.
CREATE TABLE IF NOT EXISTS `gearman_queue` (
  `id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `function_name` VARBINARY(255) NOT NULL,
  `unique_key` VARBINARY(64) NOT NULL DEFAULT '',
  `priority` TINYINT NOT NULL DEFAULT 1 CHECK (`priority` BETWEEN 0 AND 2),
  `data` LONGBLOB NOT NULL,
  `when_to_run` BIGINT NOT NULL DEFAULT 0,
  `claimed_by` VARBINARY(255) NULL DEFAULT NULL,
  `created_at` TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (`id`),
  KEY `claim` (`claimed_by`, `priority`, `id`)
) ENGINE=InnoDB;

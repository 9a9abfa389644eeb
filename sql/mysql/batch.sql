-- batch.sql - the batch table beside gearmand's MySQL/MariaDB queue table (-q MySQL): where a
-- server keeps the background jobs it accepted itself. One row holds one group commit of jobs
-- (InnoDB writes one row of 25 KB far faster than 256 rows of 100 bytes). Rows inserted by SQL
-- stay in the queue table (queue.sql); a server never reads another server's batch rows.
-- See sql/mysql/README.md.
--
-- The server creates this table when it is missing, named <queue table>_batch in the queue
-- table's database (compiled in like queue.sql; the server substitutes its quoted name for the
-- one below). Only the server writes it: do not insert, change or delete rows of a running
-- server (read them freely).
--
-- Columns:
--   id          insertion order (AUTO_INCREMENT): a restart replays batches in this order
--   claimed_by  the owning server's name (--queue-owner)
--   njobs       jobs in the row (1..65536)
--   nopen       jobs not yet completed (njobs minus the bits set in done)
--   prios       bit p set when the row holds a job of priority p (1 high, 2 normal, 4 low)
--   jobs        the jobs in submission order, each encoded as (integers big-endian)
--                 priority     1 byte: 0 high, 1 normal, 2 low
--                 when_to_run  8 bytes, signed: epoch seconds to run at, 0 = now
--                 function     4-byte length, then the function name's bytes
--                 unique_key   4-byte length, then the unique key's bytes ('' = none)
--                 data         4-byte length, then the payload's bytes
--   done        bitmap of completed jobs: bit (i % 8) of byte (i DIV 8) is job i (from 0);
--               NULL = none done. The row is deleted when every job is done.
--   created_at  when the row was inserted (for people; the server does not read it)
--
-- Jobs stored, per server:
--   SELECT claimed_by, SUM(nopen) FROM gearman_queue_batch GROUP BY claimed_by;
-- (add the server's rows in the queue table itself for the whole count).
CREATE TABLE IF NOT EXISTS `gearman_queue_batch` (
  `id` BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
  `claimed_by` VARBINARY(255) NOT NULL,
  `njobs` INT NOT NULL,
  `nopen` INT NOT NULL,
  `prios` TINYINT NOT NULL,
  `jobs` LONGBLOB NOT NULL,
  `done` BLOB NULL DEFAULT NULL,
  `created_at` TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  PRIMARY KEY (`id`),
  KEY `owner` (`claimed_by`, `id`)
) ENGINE=InnoDB;

-- tx_install.sql - transactional job submission from SQL: gman_enqueue() and gman_enqueue_at()
-- insert the job into the durable queue table gearman_queue (queue.sql, README.md) inside the
-- caller's transaction. The job runs if and only if that transaction commits: a gearmand running
-- with -q MySQL on this database claims committed rows (it polls, every 100 ms by default) and
-- runs each once; a rolled-back row never existed. A UDF cannot do this: it talks to gearmand at
-- once and never sees COMMIT or ROLLBACK.
--
-- Install into the database that holds the queue table (gearmand --mysql-db), after the table:
--   mariadb yourdb < sql/mysql/queue.sql        (or let gearmand create it at its first start)
--   mariadb yourdb < sql/mysql/tx_install.sql
-- Other databases call it qualified: yourdb.gman_enqueue(...). With binary logging on, creating
-- functions needs SUPER or log_bin_trust_function_creators = 1. The functions run with their
-- definer's rights (SQL SECURITY DEFINER), so callers need EXECUTE on them, not INSERT on the
-- queue table. Remove with tx_uninstall.sql.
--
--   gman_enqueue(function, workload, unique, priority) -> the queue row's id
--   gman_enqueue_at(function, workload, unique, priority, when_to_run) -> the queue row's id
--     function     the Gearman function name: 1 to 255 bytes
--     workload     the job's payload, binary-safe (LONGBLOB; bounded by max_allowed_packet)
--     unique       unique key, up to 64 bytes; NULL or '' for none
--     priority     'high', 'normal' or 'low' (or 0, 1, 2 as in the table); NULL = 'normal'
--     when_to_run  UNIX time to run at; 0 or NULL = now
-- A NULL or empty function, a NULL workload, an over-long name or key, or an unknown priority
-- raises an error (SQLSTATE 45000), which fails the statement and so the trigger's row: nothing
-- is dropped silently. Wrap the workload in COALESCE(x, '') if NULL should mean empty.
--
-- Example (a trigger; see sql/examples/mysql_trigger.sql):
--   CREATE TRIGGER orders_receipt AFTER INSERT ON orders FOR EACH ROW
--     DO gman_enqueue('send_receipt', NEW.id, CONCAT('order-', NEW.id), NULL);

DELIMITER //

DROP FUNCTION IF EXISTS gman_enqueue_at //
CREATE FUNCTION gman_enqueue_at(p_function LONGBLOB, p_workload LONGBLOB, p_unique LONGBLOB,
                                p_priority VARCHAR(16), p_when_to_run BIGINT)
RETURNS BIGINT UNSIGNED
NOT DETERMINISTIC
MODIFIES SQL DATA
SQL SECURITY DEFINER
COMMENT 'Queue a Gearman background job in this transaction; runs iff it commits'
BEGIN
  -- one test on the common path (each statement of a stored function costs time per row)
  DECLARE v_priority TINYINT DEFAULT CASE LOWER(COALESCE(p_priority, 'normal'))
      WHEN 'high' THEN 0 WHEN '0' THEN 0
      WHEN 'normal' THEN 1 WHEN '1' THEN 1 WHEN '' THEN 1
      WHEN 'low' THEN 2 WHEN '2' THEN 2
      ELSE NULL END;
  IF p_function IS NULL OR LENGTH(p_function) NOT BETWEEN 1 AND 255 OR p_workload IS NULL
     OR LENGTH(COALESCE(p_unique, '')) > 64 OR v_priority IS NULL
     OR COALESCE(p_when_to_run, 0) < 0 THEN
    IF p_function IS NULL OR LENGTH(p_function) NOT BETWEEN 1 AND 255 THEN
      SIGNAL SQLSTATE '45000'
        SET MESSAGE_TEXT = 'gman_enqueue: function name must be 1 to 255 bytes';
    ELSEIF p_workload IS NULL THEN
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'gman_enqueue: workload is NULL';
    ELSEIF v_priority IS NULL THEN
      SIGNAL SQLSTATE '45000'
        SET MESSAGE_TEXT = 'gman_enqueue: priority must be high, normal or low';
    ELSEIF COALESCE(p_when_to_run, 0) < 0 THEN
      SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'gman_enqueue: when_to_run is negative';
    ELSE
      SIGNAL SQLSTATE '45000'
        SET MESSAGE_TEXT = 'gman_enqueue: unique key is longer than 64 bytes';
    END IF;
  END IF;
  INSERT INTO gearman_queue (function_name, unique_key, priority, data, when_to_run)
    VALUES (p_function, COALESCE(p_unique, ''), v_priority, p_workload,
            COALESCE(p_when_to_run, 0));
  RETURN LAST_INSERT_ID();
END //

DROP FUNCTION IF EXISTS gman_enqueue //
CREATE FUNCTION gman_enqueue(p_function LONGBLOB, p_workload LONGBLOB, p_unique LONGBLOB,
                             p_priority VARCHAR(16))
RETURNS BIGINT UNSIGNED
NOT DETERMINISTIC
MODIFIES SQL DATA
SQL SECURITY DEFINER
COMMENT 'Queue a Gearman background job in this transaction; runs iff it commits'
RETURN gman_enqueue_at(p_function, p_workload, p_unique, p_priority, 0) //

DELIMITER ;

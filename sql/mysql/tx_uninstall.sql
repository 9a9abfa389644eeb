-- tx_uninstall.sql - drop the transactional submit functions of tx_install.sql (run in the same
-- database). The queue table and its rows stay.
DROP FUNCTION IF EXISTS gman_enqueue;
DROP FUNCTION IF EXISTS gman_enqueue_at;

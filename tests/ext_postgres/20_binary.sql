-- 20_binary.sql - 1 MiB payloads round-trip exactly: bytea through Debian's gearman -w (cat),
-- text through rev, many binary elements through gman_map.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;
SELECT * FROM no_plan();

-- 1 MiB of pseudo-random bytes (zero bytes included) and 1 MiB of text
CREATE TEMP TABLE blob AS
    SELECT string_agg(decode(md5(i::text), 'hex'), ''::bytea ORDER BY i) AS b
      FROM generate_series(1, 65536) AS i;
SELECT is((SELECT octet_length(b) FROM blob), 1048576, 'the payload is 1 MiB');
SELECT ok((SELECT position('\x00'::bytea IN b) > 0 FROM blob), 'it contains zero bytes');

SELECT ok((SELECT gman_do('echo', b) = b FROM blob), '1 MiB bytea round trip, byte for byte');
SELECT ok((SELECT gman_do_high('echo', b, 'blob-u') = b FROM blob), '... high, with a unique key');
SELECT ok(gman_do('reverse', repeat('ab', 524288)) = repeat('ba', 524288), '1 MiB of text');
SELECT ok((SELECT array_agg(r) = ARRAY[b, '\x00'::bytea, ''::bytea, b]
             FROM blob, gman_map('echo', ARRAY[b, '\x00'::bytea, ''::bytea, b]) AS r
            GROUP BY b), 'gman_map(text, bytea[]) round trip with 1 MiB elements');
SELECT matches(gman_do_background('bgcount', repeat('z', 1048576)), '^H:', '1 MiB background job');

SELECT * FROM finish();

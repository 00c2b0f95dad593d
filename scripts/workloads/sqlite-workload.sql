-- An OLTP-ish sqlite3 workload for mtrace recording (run as: sqlite3 :memory: < this file).
PRAGMA cache_size = 2000;
CREATE TABLE account(id INTEGER PRIMARY KEY, owner TEXT, balance INTEGER, note TEXT);
CREATE TABLE txn(id INTEGER PRIMARY KEY, src INTEGER, dst INTEGER, amount INTEGER, memo TEXT);
BEGIN;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 4000)
INSERT INTO account SELECT x, 'owner-' || (x * 7919 % 1000), x * 13 % 10000, printf('%.*c', x % 300, 'n') FROM c;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 12000)
INSERT INTO txn SELECT x, x * 31 % 4000 + 1, x * 17 % 4000 + 1, x % 500, hex(randomblob(x % 64)) FROM c;
COMMIT;
CREATE INDEX txn_src ON txn(src);
CREATE INDEX account_owner ON account(owner);
SELECT owner, count(*), sum(balance) FROM account GROUP BY owner ORDER BY 3 DESC LIMIT 5;
SELECT a.owner, sum(t.amount) FROM txn t JOIN account a ON a.id = t.src GROUP BY a.owner ORDER BY 2 DESC LIMIT 5;
UPDATE account SET balance = balance + (SELECT coalesce(sum(amount), 0) FROM txn WHERE dst = account.id);
DELETE FROM txn WHERE amount < 100;
SELECT group_concat(memo, ',') FROM (SELECT memo FROM txn ORDER BY amount DESC LIMIT 2000);
VACUUM;
SELECT count(*) FROM txn;

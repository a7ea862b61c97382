-- What scripts remember between runs (`store::`), shared by every machine that uses this
-- database. The same columns as the SQLite store: entries are kept per API target (base
-- URL plus a fingerprint of the key, never the key); values are JSON text, so they
-- round-trip exactly as written.

CREATE TABLE store (
    scope      text NOT NULL,
    key        text NOT NULL,
    value      text NOT NULL,
    updated_at text NOT NULL,
    PRIMARY KEY (scope, key)
);

-- auth-api on SQLite (the embedded default): the same schema as ../../../migrations for PostgreSQL.
-- UUIDs are 16-byte blobs and timestamps RFC 3339 text, as sqlx encodes them.

CREATE TABLE users (
    id            BLOB PRIMARY KEY NOT NULL,
    email         TEXT NOT NULL UNIQUE,
    username      TEXT NOT NULL UNIQUE,
    password_hash TEXT,
    display_name  TEXT,
    avatar        TEXT,
    provider      TEXT NOT NULL DEFAULT 'email',
    provider_id   TEXT,
    verified      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE identities (
    provider   TEXT NOT NULL,
    subject    TEXT NOT NULL,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE INDEX identities_user_id_idx ON identities (user_id);

CREATE TABLE user_keys (
    user_id    BLOB PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    public_key TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Profile pictures: the same table as ../../../migrations for PostgreSQL.
CREATE TABLE avatars (
    user_id      BLOB PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    bytes        BLOB NOT NULL,
    version      TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

-- Google's picture addresses, which no client showed: see the PostgreSQL migration.
UPDATE users SET avatar = NULL WHERE avatar IS NOT NULL;

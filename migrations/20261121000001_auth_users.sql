-- auth-api: accounts, external identities and the end-to-end public-key directory.
-- Emails are stored lower-cased; usernames are validated as [a-z0-9_.]{3,32} before they get here.

CREATE TABLE users (
    id            UUID PRIMARY KEY,
    email         TEXT NOT NULL,
    username      TEXT NOT NULL,
    password_hash TEXT,
    display_name  TEXT,
    avatar        TEXT,
    provider      TEXT NOT NULL DEFAULT 'email',
    provider_id   TEXT,
    verified      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT users_email_key UNIQUE (email),
    CONSTRAINT users_username_key UNIQUE (username)
);

-- Username prefix search (`LIKE 'abc%'`) uses this index regardless of the database collation.
CREATE INDEX users_username_prefix_idx ON users (username text_pattern_ops);

-- An account can be reached through several providers; (provider, subject) is the provider's
-- stable user id (Google's `sub`), never its email.
CREATE TABLE identities (
    provider   TEXT NOT NULL,
    subject    TEXT NOT NULL,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, subject)
);
CREATE INDEX identities_user_id_idx ON identities (user_id);

-- One ECDH P-256 public key (JWK JSON) per user.
CREATE TABLE user_keys (
    user_id    UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    public_key TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

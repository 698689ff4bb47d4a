-- Profile pictures: one per user (PNG, JPEG or WebP, at most 256 KiB), served by auth-api at the
-- URL the account's `avatar` names (`/api/users/<id>/avatar?v=<version>`, a new version for
-- each new picture).
CREATE TABLE avatars (
    user_id      UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    bytes        BYTEA NOT NULL,
    version      TEXT NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- `avatar` held the picture address Google gave at sign-up, which no client ever showed: a
-- third party's address, which would tell Google who looks at whom. It now names only a picture
-- stored here.
UPDATE users SET avatar = NULL WHERE avatar IS NOT NULL;

-- The user's private key as their client wrapped it (JSON: kdf, iterations, salt, iv,
-- ciphertext), kept with the public key it opens; NULL when the key was published without one.
ALTER TABLE user_keys ADD COLUMN key_backup TEXT;

//! argon2id on working memory the caller keeps.
//!
//! The argon2 crate's `hash_password`/`verify_password` allocate and zero the whole m-cost buffer
//! (19 MiB here) on every call and free it afterwards. In auth-api glibc served that from a fresh
//! mapping each time: measured under a login storm, every login paid ~2,400 page faults, the
//! kernel zeroing the pages, a `memset` and an `munmap`, about a quarter of the process's CPU.
//! These functions do the same work as those two calls (the same PHC strings; the hash's own
//! algorithm, version, parameters and salt; a constant-time comparison) but fill the [`Memory`]
//! they are given, which a hashing thread reuses.

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::password_hash::try_generate_salt;
use argon2::{Algorithm, Argon2, Block, Params, Version};

/// argon2's working memory (one 1 KiB block per KiB of m-cost), grown to the largest m-cost seen.
#[derive(Default)]
pub struct Memory(Vec<Block>);

impl Memory {
    /// The first `blocks` blocks, growing the buffer if needed. Their contents do not matter:
    /// argon2's first pass writes every block before it reads it.
    fn blocks(&mut self, blocks: usize) -> &mut [Block] {
        if self.0.len() < blocks {
            self.0.resize(blocks, Block::new());
        }
        &mut self.0[..blocks]
    }

    /// Gives the buffer back to the allocator (it is allocated again on the next use).
    pub fn release(&mut self) {
        self.0 = Vec::new();
    }
}

/// The parameters of new hashes: argon2id, m = 19 MiB, t = 2, p = 1 (the OWASP minimum).
fn params() -> Params {
    Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters")
}

/// Hashes `password` with a fresh random salt into its PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`).
pub fn hash(memory: &mut Memory, password: &[u8]) -> anyhow::Result<String> {
    let params = params();
    let (algorithm, version) = (Algorithm::Argon2id, Version::V0x13);
    let salt = try_generate_salt().map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(algorithm, version, params.clone())
        .hash_password_into_with_memory(
            password,
            &salt,
            &mut out,
            memory.blocks(params.block_count()),
        )
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
    let phc = PasswordHash {
        algorithm: algorithm.ident(),
        version: Some(version.into()),
        params: ParamsString::try_from(&params).map_err(|e| anyhow::anyhow!("params: {e}"))?,
        salt: Some(Salt::new(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?),
        hash: Some(Output::new(&out).map_err(|e| anyhow::anyhow!("output: {e}"))?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `phc`, recomputed with the algorithm, version,
/// parameters and salt that string names. A string that does not parse matches nothing.
pub fn verify(memory: &mut Memory, password: &[u8], phc: &str) -> bool {
    matches(memory, password, phc).unwrap_or(false)
}

fn matches(memory: &mut Memory, password: &[u8], phc: &str) -> Option<bool> {
    let parsed = PasswordHash::new(phc).ok()?;
    let (salt, expected) = (parsed.salt.as_ref()?, parsed.hash.as_ref()?);
    let algorithm = Algorithm::try_from(parsed.algorithm.as_str()).ok()?;
    let version = match parsed.version {
        Some(v) => Version::try_from(v).ok()?,
        None => Version::default(),
    };
    // Also takes the output length from the stored hash.
    let params = Params::try_from(&parsed).ok()?;
    let mut buf = [0u8; Output::MAX_LENGTH];
    let out = &mut buf[..expected.len()];
    let blocks = memory.blocks(params.block_count());
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, out, blocks)
        .ok()?;
    // `Output`'s equality is constant-time.
    Some(Output::new(out).ok()? == *expected)
}

#[cfg(test)]
mod tests {
    use argon2::{PasswordHasher as _, PasswordVerifier as _};

    use super::*;

    fn stock(params: Params) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }

    #[test]
    fn hashes_verify_with_the_argon2_crate_and_carry_our_parameters() {
        let mut memory = Memory::default();
        let phc = hash(&mut memory, b"correct horse battery").expect("hash");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        let argon = stock(params());
        assert!(
            argon
                .verify_password(b"correct horse battery", phc.as_str())
                .is_ok()
        );
        assert!(
            argon
                .verify_password(b"correct horse batterY", phc.as_str())
                .is_err()
        );
        // A second hash of the same password has its own salt.
        assert_ne!(
            phc,
            hash(&mut memory, b"correct horse battery").expect("hash")
        );
    }

    #[test]
    fn verifies_hashes_made_by_the_argon2_crate_with_their_own_parameters() {
        let mut memory = Memory::default();
        // Ours, then smaller and larger m-costs and another variant, through the same buffer: the
        // previous contents must not leak into the next result.
        let argon2i = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(64, 1, 1, None).expect("params"),
        );
        let hashers = [
            stock(params()),
            stock(Params::new(256, 3, 2, Some(16)).expect("params")),
            stock(Params::new(32 * 1024, 1, 1, None).expect("params")),
            argon2i,
        ];
        for argon in hashers {
            let phc = argon
                .hash_password(b"p4ssw0rd")
                .expect("stock hash")
                .to_string();
            assert!(verify(&mut memory, b"p4ssw0rd", &phc), "{phc}");
            assert!(!verify(&mut memory, b"p4ssw0rD", &phc), "{phc}");
            assert!(!verify(&mut memory, b"", &phc), "{phc}");
        }
    }

    #[test]
    fn malformed_hashes_match_nothing() {
        let mut memory = Memory::default();
        let phc = hash(&mut memory, b"pw").expect("hash");
        let no_output = phc.rsplit_once('$').expect("PHC output field").0;
        for bad in [
            "",
            "not a hash",
            "$argon2id$v=19$m=19456,t=2,p=1",
            no_output,
        ] {
            assert!(!verify(&mut memory, b"pw", bad), "{bad}");
        }
        let other_algorithm = phc.replace("argon2id", "scrypt");
        assert!(!verify(&mut memory, b"pw", &other_algorithm));
    }

    #[test]
    fn released_memory_is_grown_again_on_use() {
        let mut memory = Memory::default();
        let phc = hash(&mut memory, b"pw").expect("hash");
        memory.release();
        assert!(verify(&mut memory, b"pw", &phc));
    }
}

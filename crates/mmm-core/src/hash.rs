//! sha256 of files and bytes, as lowercase hex.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::CoreError;

/// sha256 of a byte slice as 64 lowercase hex characters.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest.iter() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// sha256 of a file's content.
pub fn sha256_file(path: &Path) -> Result<String, CoreError> {
    let bytes = std::fs::read(path).map_err(|e| CoreError::io(path, e))?;
    Ok(sha256_hex(&bytes))
}

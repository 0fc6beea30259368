//! HTTP Signature auth as IMGAPI checks it: `Authorization: Signature
//! keyId="<user>",algorithm="rsa-sha256",signature="<base64>"`, the
//! signature an RSA PKCS#1 v1.5 SHA-256 signature of `date: <Date header>`.
//! IMGAPI accepts RSA and DSA keys only (no ECDSA, no Ed25519).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use base64::Engine as _;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer as _};

/// Signs requests as `user` with an RSA private key.
#[derive(Clone)]
pub struct Signer {
    user: String,
    key: rsa::pkcs1v15::SigningKey<sha2::Sha256>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("user", &self.user).finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot read the key {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the key {path} is not an RSA private key without a passphrase ({why}); IMGAPI signatures need one")]
    NotRsa { path: PathBuf, why: String },
}

impl Signer {
    /// Reads an RSA private key: OpenSSH (`ssh-keygen`'s default), PKCS#1
    /// (`BEGIN RSA PRIVATE KEY`) or PKCS#8 PEM, unencrypted.
    pub fn from_key_file(user: &str, path: &Path) -> Result<Signer, AuthError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuthError::Read { path: path.into(), source })?;
        let not_rsa = |why: String| AuthError::NotRsa { path: path.into(), why };
        let key = if text.contains("BEGIN OPENSSH PRIVATE KEY") {
            let key = ssh_key::PrivateKey::from_openssh(&text).map_err(|e| not_rsa(e.to_string()))?;
            if key.is_encrypted() {
                return Err(not_rsa("it is encrypted".into()));
            }
            let pair = key.key_data().rsa().ok_or_else(|| not_rsa(format!("it is {}", key.algorithm())))?;
            // From the components: ssh-key's own conversion refuses keys
            // ssh-keygen makes (its consistency check fails on them).
            let big = |m: &ssh_key::Mpint| {
                m.as_positive_bytes()
                    .map(rsa::BigUint::from_bytes_be)
                    .ok_or_else(|| not_rsa("a negative number in it".into()))
            };
            let (public, private) = (&pair.public, &pair.private);
            let primes = vec![big(&private.p)?, big(&private.q)?];
            rsa::RsaPrivateKey::from_components(big(&public.n)?, big(&public.e)?, big(&private.d)?, primes)
                .map_err(|e| not_rsa(e.to_string()))?
        } else if text.contains("BEGIN RSA PRIVATE KEY") {
            rsa::RsaPrivateKey::from_pkcs1_pem(&text).map_err(|e| not_rsa(e.to_string()))?
        } else {
            rsa::RsaPrivateKey::from_pkcs8_pem(&text).map_err(|e| not_rsa(e.to_string()))?
        };
        Ok(Signer { user: user.to_string(), key: rsa::pkcs1v15::SigningKey::new(key) })
    }

    /// The `Date` and `Authorization` headers for a request sent now.
    pub fn headers(&self) -> (String, String) {
        let date = httpdate::fmt_http_date(SystemTime::now());
        let authorization = self.authorization(&date);
        (date, authorization)
    }

    /// The `Authorization` header value for a request whose `Date` is `date`.
    pub fn authorization(&self, date: &str) -> String {
        let signature = self.key.sign(format!("date: {date}").as_bytes());
        let encoded = base64::engine::general_purpose::STANDARD.encode(signature.to_bytes());
        format!("Signature keyId=\"{}\",algorithm=\"rsa-sha256\",signature=\"{encoded}\"", self.user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::signature::Verifier;

    #[test]
    fn signatures_verify_with_the_public_key_over_the_date_line() {
        let dir = std::env::temp_dir().join(format!("buildy-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = dir.join("key");
        let made = std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f"])
            .arg(&key)
            .status()
            .unwrap();
        assert!(made.success());
        let signer = Signer::from_key_file("builder", &key).unwrap();
        let date = "Wed, 02 Dec 2026 03:00:00 GMT";
        let header = signer.authorization(date);
        let prefix = "Signature keyId=\"builder\",algorithm=\"rsa-sha256\",signature=\"";
        assert!(header.starts_with(prefix) && header.ends_with('"'), "{header}");
        let sig = base64::engine::general_purpose::STANDARD.decode(&header[prefix.len()..header.len() - 1]).unwrap();
        let public = ssh_key::PublicKey::from_openssh(&std::fs::read_to_string(dir.join("key.pub")).unwrap()).unwrap();
        let rsa_public = public.key_data().rsa().unwrap();
        let big = |m: &ssh_key::Mpint| rsa::BigUint::from_bytes_be(m.as_positive_bytes().unwrap());
        let public = rsa::RsaPublicKey::new(big(&rsa_public.n), big(&rsa_public.e)).unwrap();
        let verifier = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(public);
        let sig = rsa::pkcs1v15::Signature::try_from(sig.as_slice()).unwrap();
        verifier.verify(format!("date: {date}").as_bytes(), &sig).expect("the signature verifies");
        assert!(verifier.verify(b"date: another", &sig).is_err());

        let ed = dir.join("ed");
        std::process::Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(&ed)
            .status()
            .unwrap();
        let err = Signer::from_key_file("builder", &ed).unwrap_err();
        assert!(err.to_string().contains("is not an RSA private key"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! SRTP for the direct send path ((`direct`)): the keys a viewer's DTLS handshake
//! exports, and the protection of our RTP and RTCP with them.
//!
//! str0m derives its own SRTP context from the same export and keeps it private. The
//! [`tapping`] crypto provider wraps str0m's DTLS provider and copies each handshake's
//! keying material out as str0m reads it, filed under the local certificate of that DTLS
//! session. Every peer is given a certificate of its own (see `offer`), so the core takes a
//! peer's keys with [`take_keys`] by that peer's certificate: which peer was polled last does
//! not matter, and no peer can take another's. A certificate that two sessions used (never, by
//! construction) yields no keys at all rather than the wrong ones; str0m then sends. The
//! ciphers themselves are str0m's provider's (aws-lc-rs); the key derivation (RFC 3711 §4.3,
//! AES-CM PRF) and the packet layouts (RFC 3711 §3, RFC 7714 §5 and §9) are ours.

use std::{
	collections::HashMap,
	sync::{Mutex, OnceLock},
	time::Instant,
};
use str0m::crypto::{
	dtls::{
		DtlsCert, DtlsImplError, DtlsInstance, DtlsOutput, DtlsProvider, DtlsVersion,
		ProtocolVersion, SrtpProfile,
	},
	AeadAes128Gcm, AeadAes128GcmCipher, AeadAes256Gcm, AeadAes256GcmCipher, Aes128CmSha1_80,
	Aes128CmSha1_80Cipher, CryptoError, CryptoProvider, Sha1HmacProvider, SrtpProvider,
};

/// Sender SSRCs whose SRTCP indices are tracked for replays.
const RX_SSRCS: usize = 8;
/// aws-lc-rs' counter mode writes whole blocks: its output needs this much room past the input.
const CTR_SLACK: usize = 15;

/// A handshake's export, as the DTLS provider handed it to str0m.
#[derive(Debug)]
pub(crate) struct TappedKeys {
	profile: SrtpProfile,
	material: Vec<u8>,
	/// We were the DTLS client: our keys are the export's first ("client write") half.
	client: bool,
}

#[cfg(test)]
impl TappedKeys {
	/// An export as a handshake would give it.
	pub(crate) fn new(profile: SrtpProfile, material: Vec<u8>, client: bool) -> Self {
		Self { profile, material, client }
	}
}

/// An export waiting to be taken.
#[derive(Debug)]
enum Export {
	Keys(TappedKeys),
	/// Two sessions on one certificate exported: neither is told which is whose.
	Ambiguous,
}

/// The tap str0m's provider is wrapped in, once per process (str0m holds providers as
/// `&'static`).
static TAP: OnceLock<KeyTap> = OnceLock::new();

/// The keys exported by the DTLS session whose local certificate is `cert` (DER), if it has
/// completed and they were not taken yet.
pub(crate) fn take_keys(cert: &[u8]) -> Option<TappedKeys> {
	match TAP.get()?.exports.lock().unwrap_or_else(|p| p.into_inner()).remove(cert)? {
		Export::Keys(keys) => Some(keys),
		Export::Ambiguous => None,
	}
}

/// Drop whatever was exported under `cert` (its peer is gone).
pub(crate) fn forget(cert: &[u8]) {
	if let Some(tap) = TAP.get() {
		tap.exports.lock().unwrap_or_else(|p| p.into_inner()).remove(cert);
	}
}

/// `provider` with its DTLS instances tapped for their SRTP export.
pub(crate) fn tapping(provider: CryptoProvider) -> CryptoProvider {
	let tap =
		TAP.get_or_init(|| KeyTap { inner: provider.dtls_provider, exports: Mutex::default() });
	CryptoProvider { dtls_provider: tap, ..provider }
}

#[derive(Debug)]
struct KeyTap {
	inner: &'static dyn DtlsProvider,
	/// By local certificate (DER).
	exports: Mutex<HashMap<Vec<u8>, Export>>,
}

impl KeyTap {
	fn file(&self, cert: &[u8], keys: TappedKeys) {
		let mut exports = self.exports.lock().unwrap_or_else(|p| p.into_inner());
		match exports.get_mut(cert) {
			Some(e) => *e = Export::Ambiguous,
			None => {
				exports.insert(cert.to_vec(), Export::Keys(keys));
			},
		}
	}
}

impl DtlsProvider for KeyTap {
	fn generate_certificate(&self) -> Option<DtlsCert> {
		self.inner.generate_certificate()
	}

	fn new_dtls(
		&self,
		cert: &DtlsCert,
		now: Instant,
		dtls_version: DtlsVersion,
		mtu: Option<usize>,
	) -> Result<Box<dyn DtlsInstance>, CryptoError> {
		let inner = self.inner.new_dtls(cert, now, dtls_version, mtu)?;
		Ok(Box::new(TappedDtls { inner, cert: cert.certificate.clone() }))
	}
}

#[derive(Debug)]
struct TappedDtls {
	inner: Box<dyn DtlsInstance>,
	/// Our certificate (DER): what the export is filed under.
	cert: Vec<u8>,
}

impl DtlsInstance for TappedDtls {
	fn set_active(&mut self, active: bool) {
		self.inner.set_active(active)
	}

	fn handle_packet(&mut self, packet: &[u8]) -> Result<(), DtlsImplError> {
		self.inner.handle_packet(packet)
	}

	fn poll_output<'a>(&mut self, buf: &'a mut [u8]) -> DtlsOutput<'a> {
		let out = self.inner.poll_output(buf);
		if let DtlsOutput::KeyingMaterial(material, profile) = &out {
			let keys = TappedKeys {
				profile: *profile,
				material: material.to_vec(),
				client: self.inner.is_active(),
			};
			if let Some(tap) = TAP.get() {
				tap.file(&self.cert, keys);
			}
		}
		out
	}

	fn handle_timeout(&mut self, now: Instant) -> Result<(), DtlsImplError> {
		self.inner.handle_timeout(now)
	}

	fn send_application_data(&mut self, data: &[u8]) -> Result<usize, DtlsImplError> {
		self.inner.send_application_data(data)
	}

	fn is_active(&self) -> bool {
		self.inner.is_active()
	}

	fn protocol_version(&self) -> Option<ProtocolVersion> {
		self.inner.protocol_version()
	}

	fn is_closing(&self) -> bool {
		self.inner.is_closing()
	}

	fn is_closed(&self) -> bool {
		self.inner.is_closed()
	}

	fn close(&mut self) -> Result<(), DtlsImplError> {
		self.inner.close()
	}
}

/// RFC 3711 §4.3.1 key derivation labels (the key derivation rate is 0).
const LABEL_RTP_KEY: u8 = 0;
const LABEL_RTP_AUTH: u8 = 1;
const LABEL_RTP_SALT: u8 = 2;
const LABEL_RTCP_KEY: u8 = 3;
const LABEL_RTCP_AUTH: u8 = 4;
const LABEL_RTCP_SALT: u8 = 5;

/// One direction's master key and salt.
struct Master<'a> {
	key: &'a [u8],
	salt: &'a [u8],
}

impl Master<'_> {
	/// The AES-CM PRF of RFC 3711 §4.3.3: `out` is the key stream of AES in counter mode under
	/// the master key, from the block `(salt ^ label << 48) || counter`.
	fn derive(&self, srtp: &dyn SrtpProvider, label: u8, out: &mut [u8]) {
		let mut block = [0u8; 16];
		block[..self.salt.len()].copy_from_slice(self.salt);
		// The 56-bit key id (label, then a zero index) ends at byte 14, where the 112-bit
		// salt ends; a 96-bit (GCM) salt is padded with zeros to that length.
		block[7] ^= label;
		let mut stream = [0u8; 32];
		for (i, chunk) in out.chunks_mut(16).enumerate() {
			block[14..].copy_from_slice(&(i as u16).to_be_bytes());
			match self.key.len() {
				16 => srtp.srtp_aes_128_ecb_round(self.key, &block, &mut stream),
				_ => srtp.srtp_aes_256_ecb_round(self.key, &block, &mut stream),
			}
			chunk.copy_from_slice(&stream[..chunk.len()]);
		}
	}
}

/// AEAD-AES-GCM (RFC 7714): the two key sizes differ in nothing else.
enum Gcm {
	Aes128(Box<dyn AeadAes128GcmCipher>),
	Aes256(Box<dyn AeadAes256GcmCipher>),
}

impl Gcm {
	const TAG_LEN: usize = AeadAes128Gcm::TAG_LEN;

	/// Encrypt `input` into `out` (ciphertext then tag).
	fn seal(
		&mut self,
		iv: &[u8; 12],
		aad: &[u8],
		input: &[u8],
		out: &mut [u8],
	) -> Result<(), SrtpError> {
		match self {
			Gcm::Aes128(c) => c.encrypt(iv, aad, input, out),
			Gcm::Aes256(c) => c.encrypt(iv, aad, input, out),
		}
		.map_err(|_| SrtpError::Cipher)
	}

	/// Verify and decrypt `sealed` (ciphertext then tag) into `out`; the plaintext's length.
	fn open(
		&mut self,
		iv: &[u8; 12],
		aad: &[u8],
		sealed: &[u8],
		out: &mut [u8],
	) -> Result<usize, SrtpError> {
		match self {
			Gcm::Aes128(c) => c.decrypt(iv, &[aad], sealed, out),
			Gcm::Aes256(c) => c.decrypt(iv, &[aad], sealed, out),
		}
		.map_err(|_| SrtpError::Forged)
	}
}

enum Cipher {
	Gcm(Gcm),
	Cm { cipher: Box<dyn Aes128CmSha1_80Cipher>, auth: [u8; Aes128CmSha1_80::HMAC_KEY_LEN] },
}

/// Keys for one direction of RTP or RTCP.
struct Keys {
	cipher: Cipher,
	/// The session salt: 14 bytes for AES-CM, the first 12 of them for GCM.
	salt: [u8; 14],
}

impl Keys {
	fn derive(
		crypto: &CryptoProvider,
		profile: SrtpProfile,
		master: &Master,
		rtcp: bool,
		encrypt: bool,
	) -> Option<Self> {
		let srtp = crypto.srtp_provider;
		let (key_label, auth_label, salt_label) = if rtcp {
			(LABEL_RTCP_KEY, LABEL_RTCP_AUTH, LABEL_RTCP_SALT)
		} else {
			(LABEL_RTP_KEY, LABEL_RTP_AUTH, LABEL_RTP_SALT)
		};
		let mut salt = [0u8; 14];
		master.derive(srtp, salt_label, &mut salt[..master.salt.len()]);
		let cipher = match profile {
			SrtpProfile::AEAD_AES_128_GCM => {
				let mut key = [0u8; AeadAes128Gcm::KEY_LEN];
				master.derive(srtp, key_label, &mut key);
				Cipher::Gcm(Gcm::Aes128(srtp.aead_aes_128_gcm().create_cipher(key, encrypt)))
			},
			SrtpProfile::AEAD_AES_256_GCM => {
				let mut key = [0u8; AeadAes256Gcm::KEY_LEN];
				master.derive(srtp, key_label, &mut key);
				Cipher::Gcm(Gcm::Aes256(srtp.aead_aes_256_gcm().create_cipher(key, encrypt)))
			},
			SrtpProfile::AES128_CM_SHA1_80 => {
				let mut key = [0u8; Aes128CmSha1_80::KEY_LEN];
				master.derive(srtp, key_label, &mut key);
				let mut auth = [0u8; Aes128CmSha1_80::HMAC_KEY_LEN];
				master.derive(srtp, auth_label, &mut auth);
				Cipher::Cm { cipher: srtp.aes_128_cm_sha1_80().create_cipher(key, encrypt), auth }
			},
			_ => return None,
		};
		Some(Self { cipher, salt })
	}

	fn gcm_salt(&self) -> [u8; 12] {
		let mut s = [0u8; 12];
		s.copy_from_slice(&self.salt[..12]);
		s
	}
}

/// Why a packet could not be protected or unprotected.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SrtpError {
	/// The cipher refused (it does not for well-formed input).
	Cipher,
	/// Too short to hold the header, index and tag.
	Short,
	/// Not encrypted: only encrypted SRTCP is taken.
	Unencrypted,
	/// Its index is not above the last one taken.
	Replayed,
	/// The tag did not verify.
	Forged,
}

/// Our side of one viewer's SRTP session: protection of what we send, and unprotection of
/// the RTCP it sends us.
pub(crate) struct SrtpSession {
	rtp_tx: Keys,
	rtcp_tx: Keys,
	rtcp_rx: Keys,
	hmac: &'static dyn Sha1HmacProvider,
	/// The next SRTCP index we send (RFC 3711 §3.4: from 0, one per packet, modulo 2^31).
	srtcp_index: u32,
	/// The highest SRTCP index received per sender SSRC (each has its own counter): anything
	/// at or below it is a replay. A handful of SSRCs at most; the oldest goes past that.
	rx_index: Vec<(u32, u32)>,
}

impl SrtpSession {
	/// The session of a handshake's export; `None` for an unknown profile or a malformed
	/// export.
	pub(crate) fn new(crypto: &CryptoProvider, keys: &TappedKeys) -> Option<Self> {
		let (key_len, salt_len) = match keys.profile {
			SrtpProfile::AEAD_AES_128_GCM => (AeadAes128Gcm::KEY_LEN, AeadAes128Gcm::SALT_LEN),
			SrtpProfile::AEAD_AES_256_GCM => (AeadAes256Gcm::KEY_LEN, AeadAes256Gcm::SALT_LEN),
			SrtpProfile::AES128_CM_SHA1_80 => (Aes128CmSha1_80::KEY_LEN, Aes128CmSha1_80::SALT_LEN),
			_ => return None,
		};
		// RFC 5764 §4.2: client key, server key, client salt, server salt.
		let m = &keys.material;
		if m.len() != 2 * (key_len + salt_len) {
			return None;
		}
		let client = Master { key: &m[..key_len], salt: &m[2 * key_len..2 * key_len + salt_len] };
		let server = Master { key: &m[key_len..2 * key_len], salt: &m[2 * key_len + salt_len..] };
		let (ours, theirs) = if keys.client { (client, server) } else { (server, client) };
		Some(Self {
			rtp_tx: Keys::derive(crypto, keys.profile, &ours, false, true)?,
			rtcp_tx: Keys::derive(crypto, keys.profile, &ours, true, true)?,
			rtcp_rx: Keys::derive(crypto, keys.profile, &theirs, true, false)?,
			hmac: crypto.sha1_hmac_provider,
			srtcp_index: 0,
			rx_index: Vec::new(),
		})
	}

	/// Write the SRTP packet of RTP `header` (with SSRC `ssrc`) and `payload` at extended
	/// sequence number `index` into `out` (cleared first).
	pub(crate) fn protect_rtp(
		&mut self,
		header: &[u8],
		payload: &[u8],
		ssrc: u32,
		index: u64,
		out: &mut Vec<u8>,
	) -> Result<(), SrtpError> {
		let h = header.len();
		let roc = (index >> 16) as u32;
		let (salt, gcm_salt) = (self.rtp_tx.salt, self.rtp_tx.gcm_salt());
		out.clear();
		out.extend_from_slice(header);
		match &mut self.rtp_tx.cipher {
			Cipher::Gcm(c) => {
				out.resize(h + payload.len() + Gcm::TAG_LEN, 0);
				// RFC 7714 §8.1, the same for both key sizes.
				let iv = AeadAes128Gcm::rtp_iv(gcm_salt, ssrc, roc, index as u16);
				c.seal(&iv, header, payload, &mut out[h..])
			},
			Cipher::Cm { cipher, auth } => {
				out.resize(h + payload.len() + CTR_SLACK, 0);
				let iv = Aes128CmSha1_80::rtp_iv(salt, ssrc, index);
				cipher.encrypt(&iv, payload, &mut out[h..]).map_err(|_| SrtpError::Cipher)?;
				out.truncate(h + payload.len());
				// RFC 3711 §4.2: the tag covers the packet and the rollover counter.
				let tag = self.hmac.sha1_hmac(auth, &[&out[..], &roc.to_be_bytes()]);
				out.extend_from_slice(&tag[..Aes128CmSha1_80::HMAC_TAG_LEN]);
				Ok(())
			},
		}
	}

	/// Write the SRTCP packet of the (compound) RTCP packet `plain` into `out`.
	pub(crate) fn protect_rtcp(
		&mut self,
		plain: &[u8],
		out: &mut Vec<u8>,
	) -> Result<(), SrtpError> {
		if plain.len() < 8 {
			return Err(SrtpError::Short);
		}
		let index = self.srtcp_index;
		self.srtcp_index = (index + 1) & 0x7fff_ffff;
		let e_index = (0x8000_0000 | index).to_be_bytes();
		let ssrc = u32::from_be_bytes([plain[4], plain[5], plain[6], plain[7]]);
		let body = &plain[8..];
		let (salt, gcm_salt) = (self.rtcp_tx.salt, self.rtcp_tx.gcm_salt());
		out.clear();
		out.extend_from_slice(&plain[..8]);
		let mut aad = [0u8; 12];
		aad[..8].copy_from_slice(&plain[..8]);
		aad[8..].copy_from_slice(&e_index);
		match &mut self.rtcp_tx.cipher {
			Cipher::Gcm(c) => {
				out.resize(8 + body.len() + Gcm::TAG_LEN, 0);
				// RFC 7714 §9.1.
				let iv = AeadAes128Gcm::rtcp_iv(gcm_salt, ssrc, index);
				c.seal(&iv, &aad, body, &mut out[8..])?;
				out.extend_from_slice(&e_index);
			},
			Cipher::Cm { cipher, auth } => {
				out.resize(8 + body.len() + CTR_SLACK, 0);
				let iv = Aes128CmSha1_80::rtp_iv(salt, ssrc, u64::from(index));
				cipher.encrypt(&iv, body, &mut out[8..]).map_err(|_| SrtpError::Cipher)?;
				out.truncate(8 + body.len());
				out.extend_from_slice(&e_index);
				let tag = self.hmac.sha1_hmac(auth, &[&out[..]]);
				out.extend_from_slice(&tag[..Aes128CmSha1_80::HMAC_TAG_LEN]);
			},
		}
		Ok(())
	}

	/// The RTCP inside an SRTCP packet from the viewer. Only encrypted packets are taken
	/// (browsers send no others); a replayed or forged one is rejected.
	pub(crate) fn unprotect_rtcp(&mut self, buf: &[u8]) -> Result<Vec<u8>, SrtpError> {
		let tag_len = match self.rtcp_rx.cipher {
			Cipher::Cm { .. } => Aes128CmSha1_80::HMAC_TAG_LEN,
			Cipher::Gcm(_) => Gcm::TAG_LEN,
		};
		if buf.len() < 8 + 4 + tag_len {
			return Err(SrtpError::Short);
		}
		let ssrc = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
		// GCM: header, ciphertext and tag, E+index. AES-CM: header, ciphertext, E+index, tag.
		let index_at = match self.rtcp_rx.cipher {
			Cipher::Cm { .. } => buf.len() - tag_len - 4,
			Cipher::Gcm(_) => buf.len() - 4,
		};
		let e_index = u32::from_be_bytes([
			buf[index_at],
			buf[index_at + 1],
			buf[index_at + 2],
			buf[index_at + 3],
		]);
		let index = e_index & 0x7fff_ffff;
		if e_index & 0x8000_0000 == 0 {
			return Err(SrtpError::Unencrypted);
		}
		let seen = self.rx_index.iter().position(|(s, _)| *s == ssrc);
		if seen.is_some_and(|i| index <= self.rx_index[i].1) {
			return Err(SrtpError::Replayed);
		}
		let mut aad = [0u8; 12];
		aad[..8].copy_from_slice(&buf[..8]);
		aad[8..].copy_from_slice(&e_index.to_be_bytes());
		let (salt, gcm_salt) = (self.rtcp_rx.salt, self.rtcp_rx.gcm_salt());
		let mut out = buf[..8].to_vec();
		match &mut self.rtcp_rx.cipher {
			Cipher::Gcm(c) => {
				let sealed = &buf[8..index_at];
				out.resize(8 + sealed.len(), 0);
				let iv = AeadAes128Gcm::rtcp_iv(gcm_salt, ssrc, index);
				let n = c.open(&iv, &aad, sealed, &mut out[8..])?;
				out.truncate(8 + n);
			},
			Cipher::Cm { cipher, auth } => {
				let tag = self.hmac.sha1_hmac(auth, &[&buf[..index_at + 4]]);
				let expected = &buf[index_at + 4..];
				// Constant time: every byte is compared.
				let diff = tag[..tag_len].iter().zip(expected).fold(0u8, |d, (a, b)| d | (a ^ b));
				if diff != 0 {
					return Err(SrtpError::Forged);
				}
				let body = &buf[8..index_at];
				out.resize(8 + body.len() + CTR_SLACK, 0);
				let iv = Aes128CmSha1_80::rtp_iv(salt, ssrc, u64::from(index));
				cipher.decrypt(&iv, body, &mut out[8..]).map_err(|_| SrtpError::Forged)?;
				out.truncate(8 + body.len());
			},
		}
		match seen {
			Some(i) => self.rx_index[i].1 = index,
			None => {
				if self.rx_index.len() == RX_SSRCS {
					self.rx_index.remove(0);
				}
				self.rx_index.push((ssrc, index));
			},
		}
		Ok(out)
	}
}

#[cfg(test)]
mod tests {
	use super::*;
	use webrtc_srtp::{context::Context, protection_profile::ProtectionProfile};

	fn hex(s: &str) -> Vec<u8> {
		(0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
	}

	fn crypto() -> CryptoProvider {
		str0m::crypto::from_feature_flags()
	}

	#[test]
	fn key_derivation_matches_rfc_3711_b3() {
		let key = hex("E1F97A0D3E018BE0D64FA32C06DE4139");
		let salt = hex("0EC675AD498AFEEBB6960B3AABE6");
		let master = Master { key: &key, salt: &salt };
		let srtp = crypto().srtp_provider;
		let mut k = [0u8; 16];
		master.derive(srtp, LABEL_RTP_KEY, &mut k);
		assert_eq!(k.to_vec(), hex("C61E7A93744F39EE10734AFE3FF7A087"));
		let mut s = [0u8; 14];
		master.derive(srtp, LABEL_RTP_SALT, &mut s);
		assert_eq!(s.to_vec(), hex("30CBBC08863D8C85D49DB34A9AE1"));
		let mut a = [0u8; 20];
		master.derive(srtp, LABEL_RTP_AUTH, &mut a);
		assert_eq!(a.to_vec(), hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"));
	}

	/// An export for `profile`, and webrtc-rs contexts keyed as the other end would be.
	fn pair(profile: SrtpProfile, ours_client: bool) -> (SrtpSession, Context, Context) {
		let (key_len, salt_len, theirs) = match profile {
			SrtpProfile::AEAD_AES_128_GCM => (16, 12, ProtectionProfile::AeadAes128Gcm),
			SrtpProfile::AEAD_AES_256_GCM => (32, 12, ProtectionProfile::AeadAes256Gcm),
			_ => (16, 14, ProtectionProfile::Aes128CmHmacSha1_80),
		};
		let material: Vec<u8> = (0..2 * (key_len + salt_len)).map(|i| (i * 7 + 3) as u8).collect();
		let client_key = &material[..key_len];
		let server_key = &material[key_len..2 * key_len];
		let client_salt = &material[2 * key_len..2 * key_len + salt_len];
		let server_salt = &material[2 * key_len + salt_len..];
		let (our_key, our_salt, their_key, their_salt) = if ours_client {
			(client_key, client_salt, server_key, server_salt)
		} else {
			(server_key, server_salt, client_key, client_salt)
		};
		let session = SrtpSession::new(
			&crypto(),
			&TappedKeys { profile, material: material.clone(), client: ours_client },
		)
		.expect("a known profile");
		// What we send, as the viewer decrypts it; what the viewer sends, as it encrypts it.
		let rx = Context::new(our_key, our_salt, theirs, None, None).unwrap();
		let tx = Context::new(their_key, their_salt, theirs, None, None).unwrap();
		(session, rx, tx)
	}

	const PROFILES: [SrtpProfile; 3] = [
		SrtpProfile::AEAD_AES_256_GCM,
		SrtpProfile::AEAD_AES_128_GCM,
		SrtpProfile::AES128_CM_SHA1_80,
	];

	#[test]
	fn webrtc_rs_decrypts_our_rtp_and_rtcp_across_a_rollover() {
		for profile in PROFILES {
			for client in [true, false] {
				let (mut ours, mut rx, _) = pair(profile, client);
				let mut out = Vec::new();
				let payload: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
				// Sequence numbers across a rollover: the rollover counter must follow.
				for index in [65_534u64, 65_535, 65_536, 65_537] {
					let mut header = vec![0x80, 96];
					header.extend_from_slice(&(index as u16).to_be_bytes());
					header.extend_from_slice(&1234u32.to_be_bytes());
					header.extend_from_slice(&0xCAFE_BABEu32.to_be_bytes());
					ours.protect_rtp(&header, &payload, 0xCAFE_BABE, index, &mut out).unwrap();
					let plain = rx.decrypt_rtp(&out).unwrap_or_else(|e| {
						panic!("{profile:?} client={client} index {index}: {e}")
					});
					assert_eq!(&plain[..12], &header[..]);
					assert_eq!(&plain[12..], &payload[..]);
				}
				// A sender report.
				let mut sr = vec![0x80, 200, 0, 6];
				sr.extend_from_slice(&0xCAFE_BABEu32.to_be_bytes());
				sr.extend_from_slice(&[9u8; 20]);
				for _ in 0..3 {
					ours.protect_rtcp(&sr, &mut out).unwrap();
					assert_eq!(&rx.decrypt_rtcp(&out).unwrap()[..], &sr[..], "{profile:?}");
				}
			}
		}
	}

	#[test]
	fn we_decrypt_webrtc_rs_rtcp_and_refuse_replays_and_forgeries() {
		for profile in PROFILES {
			let (mut ours, _, mut tx) = pair(profile, false);
			// A generic NACK (RFC 4585 §6.2.1) from the viewer.
			let nack =
				[0x81, 205, 0, 3, 0, 0, 0, 1, 0xCA, 0xFE, 0xBA, 0xBE, 0x12, 0x34, 0x00, 0x05];
			let sealed = tx.encrypt_rtcp(&nack).unwrap();
			assert_eq!(ours.unprotect_rtcp(&sealed).unwrap(), nack.to_vec(), "{profile:?}");
			assert_eq!(ours.unprotect_rtcp(&sealed), Err(SrtpError::Replayed), "a replay");
			let next = tx.encrypt_rtcp(&nack).unwrap();
			let mut forged = next.to_vec();
			forged[10] ^= 1;
			assert_eq!(ours.unprotect_rtcp(&forged), Err(SrtpError::Forged), "a forgery");
			assert_eq!(ours.unprotect_rtcp(&next).unwrap(), nack.to_vec());
			assert_eq!(ours.unprotect_rtcp(&next[..10]), Err(SrtpError::Short), "too short");
			// Another sender SSRC counts its own indices, from the start.
			let rr = vec![0x80, 201, 0, 1, 0x54, 0x01, 0x43, 0x2f];
			let sealed = tx.encrypt_rtcp(&rr).unwrap();
			assert_eq!(ours.unprotect_rtcp(&sealed).unwrap(), rr, "{profile:?}");
		}
	}

	/// A DTLS handshake between a client (plain str0m provider) and a server instance on
	/// `server_cert` from the tapped provider, in memory; returns the client's export.
	fn handshake(tapped: &CryptoProvider, server_cert: &DtlsCert) -> (SrtpProfile, Vec<u8>) {
		let plain = crypto();
		let now = Instant::now();
		let client_cert = plain.dtls_provider.generate_certificate().unwrap();
		let mut client =
			plain.dtls_provider.new_dtls(&client_cert, now, DtlsVersion::Dtls12, None).unwrap();
		let mut server =
			tapped.dtls_provider.new_dtls(server_cert, now, DtlsVersion::Dtls12, None).unwrap();
		client.set_active(true);
		server.set_active(false);
		client.handle_timeout(now).unwrap();
		server.handle_timeout(now).unwrap();
		let mut export = None;
		let mut buf = vec![0u8; 4096];
		let mut pair = [client, server];
		for _ in 0..20 {
			for from in 0..2 {
				let mut packets = Vec::new();
				loop {
					let d = &mut pair[from];
					match d.poll_output(&mut buf) {
						DtlsOutput::Packet(p) => packets.push(p.to_vec()),
						DtlsOutput::KeyingMaterial(m, profile) if d.is_active() => {
							export = Some((profile, m.to_vec()))
						},
						DtlsOutput::Timeout(_) => break,
						_ => {},
					}
				}
				for p in packets {
					pair[1 - from].handle_packet(&p).unwrap();
				}
			}
		}
		export.expect("the handshake completes")
	}

	/// The viewer's side of an SRTP session from its export (it is the DTLS client).
	fn viewer_rx(profile: SrtpProfile, m: &[u8]) -> Context {
		let (key_len, salt_len, theirs) = match profile {
			SrtpProfile::AEAD_AES_128_GCM => (16, 12, ProtectionProfile::AeadAes128Gcm),
			SrtpProfile::AEAD_AES_256_GCM => (32, 12, ProtectionProfile::AeadAes256Gcm),
			_ => (16, 14, ProtectionProfile::Aes128CmHmacSha1_80),
		};
		// The server writes with the export's second key and salt.
		let key = &m[key_len..2 * key_len];
		let salt = &m[2 * key_len + salt_len..];
		Context::new(key, salt, theirs, None, None).unwrap()
	}

	/// Two peers complete their handshakes before either is drained, and are drained in the
	/// reverse order: each still gets its own keys. (Under the old design, a thread-local
	/// holding the last export, the second drain got nothing and the first got the other
	/// peer's keys.)
	#[test]
	fn keys_go_to_the_session_that_exported_them_whatever_the_order() {
		let tapped = tapping(crypto());
		let cert_a = tapped.dtls_provider.generate_certificate().unwrap();
		let cert_b = tapped.dtls_provider.generate_certificate().unwrap();
		let (profile_a, export_a) = handshake(&tapped, &cert_a);
		let (profile_b, export_b) = handshake(&tapped, &cert_b);
		assert_ne!(export_a, export_b);
		// B is drained first, then A.
		let keys_b = take_keys(&cert_b.certificate).expect("B's export");
		let keys_a = take_keys(&cert_a.certificate).expect("A's export");
		assert!(take_keys(&cert_a.certificate).is_none(), "taken once");
		let mut rx_a = viewer_rx(profile_a, &export_a);
		let mut rx_b = viewer_rx(profile_b, &export_b);
		let header = [0x80, 96, 0, 1, 0, 0, 0, 9, 0xCA, 0xFE, 0xBA, 0xBE];
		let mut sealed = Vec::new();
		for (keys, own) in [(&keys_a, &mut rx_a), (&keys_b, &mut rx_b)] {
			let mut ours = SrtpSession::new(&crypto(), keys).expect("a known profile");
			ours.protect_rtp(&header, b"media", 0xCAFE_BABE, 1, &mut sealed).unwrap();
			let plain = own.decrypt_rtp(&sealed).expect("its own viewer decrypts");
			assert_eq!(&plain[12..], b"media");
		}
		// And neither viewer decrypts the other's media.
		let mut a = SrtpSession::new(&crypto(), &keys_a).unwrap();
		a.protect_rtp(&header, b"media", 0xCAFE_BABE, 2, &mut sealed).unwrap();
		assert!(viewer_rx(profile_b, &export_b).decrypt_rtp(&sealed).is_err(), "B cannot read A's");
	}

	#[test]
	fn a_gone_peers_export_is_forgotten_and_a_shared_certificate_yields_no_keys() {
		let tapped = tapping(crypto());
		let cert = tapped.dtls_provider.generate_certificate().unwrap();
		let _ = handshake(&tapped, &cert);
		forget(&cert.certificate);
		assert!(take_keys(&cert.certificate).is_none());
		// Two sessions on one certificate: neither is told which keys are whose.
		let _ = handshake(&tapped, &cert);
		let _ = handshake(&tapped, &cert);
		assert!(take_keys(&cert.certificate).is_none());
	}
}

//! Close intents from viewers' pages: checked here (the session's key signed it, for seconds
//! that were paid for and have elapsed), then recorded as a release for the relay
//! ([`crate::billing::relay`]) to act on. Shared by the WebSocket `close` message and `POST /close`
//! (the beacon a page sends when its tab closes).

use crate::{
	chain::view::ViewError,
	protocol::{Crypto, Encoding, Signer},
	Sidecar,
};
use sp_core::{ed25519, sr25519};
use vilokanam_chain_client::{voucher, CloseIntent, SessionId, Signature, VoucherSigner};

/// A close intent as received.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
pub struct IntentRequest {
	/// The session.
	pub session_id: SessionId,
	/// The viewer's final total.
	pub cumulative_seconds: u64,
	/// Which bytes were signed.
	pub encoding: Encoding,
	/// The signing key's scheme.
	pub crypto: Crypto,
	/// The signature.
	pub signature: crate::protocol::HexBytes<64>,
	/// Which key signed.
	#[serde(default)]
	pub signer: Signer,
}

/// Why a close intent was refused.
#[derive(Debug, thiserror::Error)]
pub enum CloseError {
	/// No stored session with this id.
	#[error("no open session {0}")]
	NotFound(SessionId),
	/// More seconds than were paid for, or than have elapsed since the opening (plus grace).
	#[error("the intent claims more seconds than were paid for or have elapsed")]
	TooManySeconds,
	/// The signature does not verify against the key the intent names.
	#[error("the signature does not verify against the key it names")]
	BadSignature,
	/// The chain cannot be read.
	#[error(transparent)]
	Chain(#[from] ViewError),
	/// The intent could not be stored.
	#[error("the intent could not be stored")]
	Store,
}

/// Check `req` against the session it names and record it for the relay. `now_ms`: the wall
/// clock (Unix ms).
pub async fn accept(sidecar: &Sidecar, req: &IntentRequest, now_ms: u64) -> Result<(), CloseError> {
	let genesis = sidecar.chain.genesis().ok_or(ViewError::Unavailable)?;
	let session =
		sidecar.chain.session(req.session_id).await?.ok_or(CloseError::NotFound(req.session_id))?;
	let elapsed = now_ms.saturating_sub(session.opened_at_ms) / 1_000;
	if req.cumulative_seconds > session.max_seconds()
		|| req.cumulative_seconds > elapsed.saturating_add(sidecar.settings.elapsed_grace_secs)
	{
		return Err(CloseError::TooManySeconds);
	}
	let signature = match req.crypto {
		Crypto::Sr25519 => Signature::Sr25519(sr25519::Signature::from_raw(req.signature.0)),
		Crypto::Ed25519 => Signature::Ed25519(ed25519::Signature::from_raw(req.signature.0)),
	};
	let signer: VoucherSigner = req.signer.into();
	let encoding = req.encoding.into();
	if !voucher::verify_close(
		&signature,
		encoding,
		&genesis,
		req.session_id,
		req.cumulative_seconds,
		session.signer_account(signer),
	) {
		return Err(CloseError::BadSignature);
	}
	let intent =
		CloseIntent { cumulative_seconds: req.cumulative_seconds, signer, encoding, signature };
	sidecar.store.request_release(req.session_id, session.stream_id, Some(intent)).await.map_err(
		|e| {
			tracing::error!("cannot store a close intent: {e}");
			CloseError::Store
		},
	)
}

//! The WebSocket protocol: typed, versioned JSON messages.
//!
//! Every message is one JSON text frame, an object with `"v": 1` and a `"type"` naming the
//! message (`#[serde(tag = "type")]`), e.g. `{"v":1,"type":"watch","stream_id":7,"session_id":42}`.
//! [`decode_client`] turns a frame into a [`ClientMessage`] or a [`ProtocolError`] that says
//! precisely what is wrong (`bad_json`, `unknown_type`, `unsupported_version`); [`encode`]
//! serializes a [`ServerMessage`]. Byte strings (nonces, hashes, signatures) are `0x` hex.
//! The full message list is in `docs/SIDECAR.md`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sp_core::crypto::{AccountId32, Ss58AddressFormat, Ss58Codec};
use vilokanam_chain_client::{VoucherEncoding, VoucherSigner};

/// The protocol version this server speaks; every message carries it as `"v"`.
pub const PROTOCOL_VERSION: u32 = 1;

/// The SS58 prefix accounts are shown with (the runtime's, 42).
pub const SS58_PREFIX: u16 = 42;

/// A room member's identifier, unique for the life of the process.
pub type PeerId = u64;

/// Fixed-size bytes, written as `0x`-prefixed lower-case hex (the prefix is optional on input).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct HexBytes<const N: usize>(pub [u8; N]);

impl<const N: usize> Serialize for HexBytes<N> {
	fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
		let mut out = String::with_capacity(2 + 2 * N);
		out.push_str("0x");
		out.push_str(&hex::encode(self.0));
		serializer.serialize_str(&out)
	}
}

impl<'de, const N: usize> Deserialize<'de> for HexBytes<N> {
	fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
		deserializer.deserialize_str(HexVisitor::<N>)
	}
}

/// Decodes hex from a borrowed or transient string, without allocating.
struct HexVisitor<const N: usize>;

impl<const N: usize> serde::de::Visitor<'_> for HexVisitor<N> {
	type Value = HexBytes<N>;

	fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
		write!(f, "0x and {} hex digits", 2 * N)
	}

	fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
		let digits = s.strip_prefix("0x").unwrap_or(s);
		let mut out = [0u8; N];
		hex::decode_to_slice(digits, &mut out)
			.map_err(|_| E::custom(format_args!("expected 0x and {} hex digits", 2 * N)))?;
		Ok(HexBytes(out))
	}
}

/// The signature scheme of an account key (the account id is the public key).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Crypto {
	/// Schnorr over Ristretto (Substrate's default; browser wallets).
	Sr25519,
	/// Ed25519.
	Ed25519,
}

/// Which bytes a signature covers.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
	/// The payload itself.
	Raw,
	/// `<Bytes>` ++ payload ++ `</Bytes>`, what browser wallets' `signRaw` signs.
	Wrapped,
}

/// Which key signed a voucher or close intent: the session's voucher key (a key the viewer's
/// page holds, named when the session was opened) or the viewer's own account key.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Signer {
	/// The session's voucher key.
	VoucherKey,
	/// The viewer's account key (the default, for clients that predate voucher keys).
	#[default]
	Viewer,
}

impl From<Signer> for VoucherSigner {
	fn from(s: Signer) -> Self {
		match s {
			Signer::VoucherKey => VoucherSigner::VoucherKey,
			Signer::Viewer => VoucherSigner::Viewer,
		}
	}
}

impl From<VoucherSigner> for Signer {
	fn from(s: VoucherSigner) -> Self {
		match s {
			VoucherSigner::VoucherKey => Signer::VoucherKey,
			VoucherSigner::Viewer => Signer::Viewer,
		}
	}
}

impl From<Encoding> for VoucherEncoding {
	fn from(e: Encoding) -> Self {
		match e {
			Encoding::Raw => VoucherEncoding::Raw,
			Encoding::Wrapped => VoucherEncoding::Wrapped,
		}
	}
}

impl From<VoucherEncoding> for Encoding {
	fn from(e: VoucherEncoding) -> Self {
		match e {
			VoucherEncoding::Raw => Encoding::Raw,
			VoucherEncoding::Wrapped => Encoding::Wrapped,
		}
	}
}

/// A member's role in a room.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
	/// The stream's creator, sending media.
	Publisher,
	/// A paying viewer.
	Viewer,
}

/// A WebRTC signaling payload, relayed as is between a publisher and a viewer.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SignalPayload {
	/// An SDP offer.
	Offer {
		/// The session description.
		sdp: String,
	},
	/// An SDP answer.
	Answer {
		/// The session description.
		sdp: String,
	},
	/// An ICE candidate.
	Candidate {
		/// The candidate line.
		candidate: String,
		/// The media stream identification tag.
		#[serde(default, skip_serializing_if = "Option::is_none")]
		sdp_mid: Option<String>,
		/// The index of the media description.
		#[serde(default, skip_serializing_if = "Option::is_none")]
		sdp_m_line_index: Option<u32>,
	},
}

/// A room member as announced to others.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PeerInfo {
	/// The member.
	pub peer_id: PeerId,
	/// Its account (SS58).
	pub account: String,
	/// Its role.
	pub role: Role,
}

/// A TURN server and a credential for it, in the shape of a browser's `RTCIceServer`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct IceServer {
	/// `turn:host:port?transport=udp|tcp` URLs sharing the credential.
	pub urls: Vec<String>,
	/// `<expires, unix seconds>:<user id>`.
	pub username: String,
	/// The password the TURN server derives from the username and their shared secret.
	pub credential: String,
}

/// A chat message.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ChatEntry {
	/// Its identifier (for `delete_chat`).
	pub id: u64,
	/// The author's account (SS58).
	pub from: String,
	/// The text.
	pub text: String,
	/// When the server received it (Unix milliseconds).
	pub at_ms: u64,
}

/// Why a member was removed from its room (the connection stays open).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevokeReason {
	/// The viewer's session was closed on chain.
	SessionClosed,
	/// The creator banned the viewer on chain.
	Banned,
	/// The stream ended (or was removed) on chain.
	StreamEnded,
	/// The session was closed on chain as expired (idle, or its stream ended).
	SessionExpired,
}

/// The error codes of [`ServerMessage::Error`].
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
	/// The frame is not a JSON object of a known shape (or is binary).
	BadJson,
	/// `type` names no client message.
	UnknownType,
	/// `v` is not [`PROTOCOL_VERSION`].
	UnsupportedVersion,
	/// The message exceeds the size limit (the connection is then closed with 1009).
	TooLarge,
	/// The message needs an authenticated connection.
	Unauthenticated,
	/// A signature does not verify.
	BadSignature,
	/// The account may not do this.
	Forbidden,
	/// No such stream, session, peer or chat message.
	NotFound,
	/// The message needs the connection to be in a room (or in that room's session).
	NotInRoom,
	/// Too many messages; retry later.
	RateLimited,
	/// A heartbeat not above the last acknowledged one.
	Stale,
	/// A heartbeat claiming more seconds than elapsed since the session opened (plus grace).
	AheadOfTime,
	/// A heartbeat above the seconds paid into escrow.
	AboveMax,
	/// The chain node cannot be reached; retry later.
	ChainUnavailable,
	/// A server-side failure.
	Internal,
	/// The SDP offer does not parse, or does not suit the role (`media_offer`).
	BadSdp,
	/// The media server is not running or is full; retry later.
	MediaUnavailable,
}

impl ErrorCode {
	/// The code as written on the wire (also the metrics label).
	pub fn as_str(self) -> &'static str {
		match self {
			Self::BadJson => "bad_json",
			Self::UnknownType => "unknown_type",
			Self::UnsupportedVersion => "unsupported_version",
			Self::TooLarge => "too_large",
			Self::Unauthenticated => "unauthenticated",
			Self::BadSignature => "bad_signature",
			Self::Forbidden => "forbidden",
			Self::NotFound => "not_found",
			Self::NotInRoom => "not_in_room",
			Self::RateLimited => "rate_limited",
			Self::Stale => "stale",
			Self::AheadOfTime => "ahead_of_time",
			Self::AboveMax => "above_max",
			Self::ChainUnavailable => "chain_unavailable",
			Self::Internal => "internal",
			Self::BadSdp => "bad_sdp",
			Self::MediaUnavailable => "media_unavailable",
		}
	}
}

/// Messages a client sends.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
	/// Answer the challenge: a signature of [`crate::access::identity::auth_payload`].
	///
	/// Without `session_id`, `account` is the signing account. With it, `account` is the
	/// session's voucher key (a key the viewer's page holds): the connection is authenticated
	/// as the session's viewer, with no wallet involved.
	Auth {
		/// SS58 or `0x` hex AccountId32 (the public key that signed).
		account: String,
		/// The key's scheme.
		crypto: Crypto,
		/// The signature.
		signature: HexBytes<64>,
		/// Raw payload or `<Bytes>`-wrapped.
		encoding: Encoding,
		/// The session whose voucher key `account` is.
		#[serde(default, skip_serializing_if = "Option::is_none")]
		session_id: Option<u64>,
	},
	/// Become the publisher of a stream (its creator only).
	Publish {
		/// The stream.
		stream_id: u64,
	},
	/// Join a stream as a viewer, with an open session of the authenticated account.
	Watch {
		/// The stream.
		stream_id: u64,
		/// The viewer's session on it.
		session_id: u64,
	},
	/// Leave the current room.
	Leave {},
	/// Relay a WebRTC signaling payload to a member of the room.
	Signal {
		/// The target member.
		to: PeerId,
		/// What to relay.
		payload: SignalPayload,
	},
	/// A voucher: "I watched `cumulative_seconds` of session `session_id` in total".
	Heartbeat {
		/// The session (the one being watched on this connection).
		session_id: u64,
		/// Total seconds watched.
		cumulative_seconds: u64,
		/// Which bytes the signature covers.
		encoding: Encoding,
		/// The signing key's scheme.
		crypto: Crypto,
		/// The signature of the voucher payload (see `pallet_ticks::Pallet::voucher_payload`).
		signature: HexBytes<64>,
		/// Which key signed.
		#[serde(default)]
		signer: Signer,
	},
	/// A close intent: "close session `session_id`; I watched `cumulative_seconds` in total".
	/// The sidecar relays it to the chain and, as the stream's relayer, settles what it
	/// acknowledged and closes the session at once. Answered with `closing`.
	Close {
		/// The session (any open session whose keys signed this; not only the watched one).
		session_id: u64,
		/// The viewer's final total.
		cumulative_seconds: u64,
		/// Which bytes the signature covers.
		encoding: Encoding,
		/// The signing key's scheme.
		crypto: Crypto,
		/// The signature of the close payload (see `pallet_ticks::Pallet::close_payload`).
		signature: HexBytes<64>,
		/// Which key signed.
		#[serde(default)]
		signer: Signer,
	},
	/// Post a chat message to the room.
	Chat {
		/// The text.
		text: String,
	},
	/// Delete a chat message (the stream's creator only).
	DeleteChat {
		/// The message.
		id: u64,
	},
	/// Start (or replace) this connection's media with the SFU: the publisher's offer sends,
	/// a viewer's receives. Answered with `media_answer`.
	MediaOffer {
		/// The SDP offer (no trickle needed: the server is ICE-lite).
		sdp: String,
	},
	/// End this connection's media.
	MediaClose {},
	/// Ask for a WHIP token of a stream (its creator only), for OBS.
	PublishToken {
		/// The stream.
		stream_id: u64,
		/// Rotate first: every token issued for the stream so far is refused from now on, and
		/// a publisher connected with one is disconnected.
		#[serde(default)]
		rotate: bool,
	},
	/// Ask for a WHEP token for the session watched on this connection.
	WatchToken {},
	/// Ask to watch an ended stream's replay with a replay session (opened after the end, at
	/// the creator's replay price). Authenticated as the session's viewer; answered with
	/// `replay_ticket`.
	Replay {
		/// The stream.
		stream_id: u64,
		/// The viewer's replay session on it.
		session_id: u64,
	},
	/// Delete a stream's recordings (its creator only): its replay can no longer be served
	/// here. Answered with `replay_deleted`.
	DeleteReplay {
		/// The stream.
		stream_id: u64,
	},
	/// Ask for fresh TURN credentials (a member of a room only), e.g. before re-offering
	/// media once those of `joined` are about to expire.
	IceServers {},
}

impl ClientMessage {
	/// The message's `type` as written on the wire.
	pub fn type_name(&self) -> &'static str {
		match self {
			Self::Auth { .. } => "auth",
			Self::Publish { .. } => "publish",
			Self::Watch { .. } => "watch",
			Self::Leave {} => "leave",
			Self::Signal { .. } => "signal",
			Self::Heartbeat { .. } => "heartbeat",
			Self::Close { .. } => "close",
			Self::Chat { .. } => "chat",
			Self::DeleteChat { .. } => "delete_chat",
			Self::MediaOffer { .. } => "media_offer",
			Self::MediaClose {} => "media_close",
			Self::PublishToken { .. } => "publish_token",
			Self::WatchToken {} => "watch_token",
			Self::Replay { .. } => "replay",
			Self::DeleteReplay { .. } => "delete_replay",
			Self::IceServers {} => "ice_servers",
		}
	}
}

/// The `type`s of [`ClientMessage`], to tell `unknown_type` from `bad_json`.
const CLIENT_TYPES: [&str; 16] = [
	"auth",
	"publish",
	"watch",
	"leave",
	"signal",
	"heartbeat",
	"close",
	"chat",
	"delete_chat",
	"media_offer",
	"media_close",
	"publish_token",
	"watch_token",
	"replay",
	"delete_replay",
	"ice_servers",
];

/// The state of a connection's media, in `media_state`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaState {
	/// ICE and DTLS are up; media flows.
	Connected,
	/// Forwarding to this viewer is suspended: its vouchers are late. It resumes, from the
	/// next keyframe, with the next acknowledged voucher.
	Paused,
	/// Forwarding resumed.
	Resumed,
	/// The media session is over (`reason` says why).
	Closed,
}

/// Messages the server sends.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
	/// Sent on connect: sign `auth_payload(genesis, audience, nonce)` and answer with `auth`
	/// (a client first checks that `audience` is the origin it connected to).
	Challenge {
		/// Fresh random bytes.
		nonce: HexBytes<32>,
		/// The chain's genesis hash (vouchers are bound to it too).
		genesis: HexBytes<32>,
		/// This sidecar's public origin, as the client reached it (one of `--public-url`).
		audience: String,
	},
	/// `auth` succeeded.
	Authenticated {
		/// The account (SS58).
		account: String,
	},
	/// `publish` or `watch` succeeded.
	Joined {
		/// The role taken.
		role: Role,
		/// The stream.
		stream_id: u64,
		/// This member's id.
		peer_id: PeerId,
		/// The members this one may signal: the publisher for a viewer, the viewers for the
		/// publisher.
		peers: Vec<PeerInfo>,
		/// TURN servers for this member's media, when the sidecar has any.
		#[serde(default, skip_serializing_if = "Vec::is_empty")]
		ice_servers: Vec<IceServer>,
		/// When their credentials stop working, unix seconds.
		#[serde(default, skip_serializing_if = "Option::is_none")]
		ice_expires_at: Option<u64>,
	},
	/// The room's recent chat, after `joined`.
	ChatHistory {
		/// Oldest first.
		messages: Vec<ChatEntry>,
	},
	/// A relayed signaling payload.
	Signal {
		/// The sender.
		from: PeerId,
		/// The payload.
		payload: SignalPayload,
	},
	/// A member this one may signal joined.
	PeerJoined {
		/// The member.
		peer_id: PeerId,
		/// Its account (SS58).
		account: String,
		/// Its role.
		role: Role,
	},
	/// A member this one may signal left.
	PeerLeft {
		/// The member.
		peer_id: PeerId,
	},
	/// The heartbeat is durably stored and will be settled.
	Ack {
		/// The session.
		session_id: u64,
		/// The acknowledged total.
		cumulative_seconds: u64,
	},
	/// The close intent was verified and stored: the sidecar relays it and settles what it
	/// acknowledged; `SessionClosed` on chain follows (at once if this sidecar is the stream's
	/// relayer, else when the settlement window ends).
	Closing {
		/// The session.
		session_id: u64,
		/// The intent's total.
		cumulative_seconds: u64,
	},
	/// A chat message.
	Chat(ChatEntry),
	/// A chat message was deleted by the creator.
	ChatDeleted {
		/// The message.
		id: u64,
	},
	/// Pushed every second to every room member.
	Stats {
		/// The stream.
		stream_id: u64,
		/// Viewers in the room now.
		viewers: u32,
		/// Σ latest acknowledged seconds of the room's sessions.
		seconds_watched: u64,
		/// Σ acknowledged seconds × price, as a decimal string.
		owed: String,
		/// Σ settled-on-chain seconds × price, as a decimal string.
		settled: String,
	},
	/// The member was removed from its room; the connection stays open.
	Revoked {
		/// Why.
		reason: RevokeReason,
	},
	/// The SFU's answer to `media_offer`.
	MediaAnswer {
		/// The SDP answer, with the server's one host candidate.
		sdp: String,
	},
	/// The connection's media changed state.
	MediaState {
		/// The new state.
		state: MediaState,
		/// Why it closed (`closed`, `session_closed`, `banned`, `stream_ended`, `replaced`, `revoked`,
		/// `disconnected`, `shutdown`).
		reason: Option<String>,
	},
	/// A stream's WHIP endpoint and bearer token, for OBS.
	PublishToken {
		/// The stream.
		stream_id: u64,
		/// The bearer token.
		token: String,
		/// The WHIP endpoint (a path on this server).
		whip_url: String,
		/// When the token stops being accepted, unix seconds.
		expires_at: u64,
		/// TURN servers for the WHIP client, when the sidecar has any.
		#[serde(default, skip_serializing_if = "Vec::is_empty")]
		ice_servers: Vec<IceServer>,
		/// When their credentials stop working, unix seconds.
		#[serde(default, skip_serializing_if = "Option::is_none")]
		ice_expires_at: Option<u64>,
	},
	/// A session's WHEP endpoint and bearer token.
	WatchToken {
		/// The stream.
		stream_id: u64,
		/// The session the token is bound to.
		session_id: u64,
		/// The bearer token.
		token: String,
		/// The WHEP endpoint (a path on this server).
		whep_url: String,
		/// TURN servers for the WHEP client, when the sidecar has any.
		#[serde(default, skip_serializing_if = "Vec::is_empty")]
		ice_servers: Vec<IceServer>,
		/// When their credentials stop working, unix seconds.
		#[serde(default, skip_serializing_if = "Option::is_none")]
		ice_expires_at: Option<u64>,
	},
	/// An ended stream's replay, answering `replay`: a `<video src>` for `url` plays it, and
	/// `POST /vouchers` with `Authorization: Bearer <token>` pays for it (the bytes come as the
	/// vouchers allow, at most 10 s of media ahead of them).
	ReplayTicket {
		/// The stream.
		stream_id: u64,
		/// The replay session.
		session_id: u64,
		/// The session's watch token: the ticket in `url`, and the bearer for vouchers.
		token: String,
		/// The recording, with the ticket (a path on this server).
		url: String,
		/// The recording's duration.
		duration_ms: u64,
	},
	/// A stream's recordings were deleted, answering `delete_replay`.
	ReplayDeleted {
		/// The stream.
		stream_id: u64,
		/// How many files were deleted.
		files: u32,
	},
	/// Fresh TURN credentials, answering `ice_servers`: none (and no expiry) when the sidecar
	/// has no TURN server.
	IceServers {
		/// The servers, each with a credential.
		ice_servers: Vec<IceServer>,
		/// When the credentials stop working, unix seconds.
		ice_expires_at: Option<u64>,
	},
	/// A request failed.
	Error {
		/// What went wrong.
		code: ErrorCode,
		/// A human-readable explanation.
		message: String,
		/// The `type` of the client message that failed, when known.
		request: Option<String>,
	},
}

/// A message with its protocol version: `{"v": 1, "type": ..., ...}`.
#[derive(Serialize, Deserialize)]
pub struct Envelope<M> {
	/// The protocol version.
	pub v: u32,
	/// The message.
	#[serde(flatten)]
	pub msg: M,
}

/// A frame that is not an acceptable client message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ProtocolError {
	/// The error code to answer with.
	pub code: ErrorCode,
	/// What is wrong.
	pub message: String,
	/// The message's `type`, when it could be read.
	pub request: Option<String>,
}

impl ProtocolError {
	/// The error as a server message.
	pub fn into_message(self) -> ServerMessage {
		ServerMessage::Error { code: self.code, message: self.message, request: self.request }
	}
}

/// Just enough of a message to classify a decoding failure.
#[derive(Deserialize)]
struct Probe {
	v: Option<serde_json::Value>,
	#[serde(rename = "type")]
	ty: Option<serde_json::Value>,
}

/// A heartbeat as a plain struct: decoding it costs a fraction of the tagged enum (which
/// buffers every field first). Only used when it decodes completely; anything else goes through
/// the general path and its precise errors.
#[derive(Deserialize)]
struct HeartbeatFrame<'a> {
	v: u32,
	#[serde(rename = "type", borrow)]
	ty: &'a str,
	session_id: u64,
	cumulative_seconds: u64,
	encoding: Encoding,
	crypto: Crypto,
	signature: HexBytes<64>,
	#[serde(default)]
	signer: Signer,
}

/// Decode one text frame from a client.
pub fn decode_client(text: &str) -> Result<ClientMessage, ProtocolError> {
	// The message of the hot path, one per viewer per second.
	if let Ok(hb) = serde_json::from_str::<HeartbeatFrame>(text) {
		if hb.v == PROTOCOL_VERSION && hb.ty == "heartbeat" {
			return Ok(ClientMessage::Heartbeat {
				session_id: hb.session_id,
				cumulative_seconds: hb.cumulative_seconds,
				encoding: hb.encoding,
				crypto: hb.crypto,
				signature: hb.signature,
				signer: hb.signer,
			});
		}
	}
	let err =
		|code, message: String, request: Option<String>| ProtocolError { code, message, request };
	match serde_json::from_str::<Envelope<ClientMessage>>(text) {
		Ok(Envelope { v, msg }) if v == PROTOCOL_VERSION => Ok(msg),
		Ok(Envelope { v, msg }) => Err(err(
			ErrorCode::UnsupportedVersion,
			format!("protocol version {v} is not supported (use {PROTOCOL_VERSION})"),
			Some(msg.type_name().into()),
		)),
		Err(e) => {
			// Find out why, in the order a client needs to know it.
			let probe = match serde_json::from_str::<Probe>(text) {
				Ok(p) => p,
				Err(_) => return Err(err(ErrorCode::BadJson, format!("invalid JSON: {e}"), None)),
			};
			let ty = probe.ty.as_ref().and_then(|t| t.as_str()).map(str::to_owned);
			match probe.v {
				Some(v) if v.as_u64() == Some(u64::from(PROTOCOL_VERSION)) => {},
				Some(v) => {
					return Err(err(
						ErrorCode::UnsupportedVersion,
						format!("protocol version {v} is not supported (use {PROTOCOL_VERSION})"),
						ty,
					))
				},
				None => {
					return Err(err(
						ErrorCode::BadJson,
						format!("missing \"v\" (use {PROTOCOL_VERSION})"),
						ty,
					))
				},
			}
			match ty {
				None => Err(err(ErrorCode::BadJson, "missing or non-string \"type\"".into(), None)),
				Some(t) if !CLIENT_TYPES.contains(&t.as_str()) => {
					Err(err(ErrorCode::UnknownType, format!("unknown message type {t:?}"), Some(t)))
				},
				Some(t) => {
					Err(err(ErrorCode::BadJson, format!("invalid {t:?} message: {e}"), Some(t)))
				},
			}
		},
	}
}

/// A minimal `internal` error, for the (practically impossible) case that serializing fails.
const FALLBACK_ERROR: &str =
	r#"{"v":1,"type":"error","code":"internal","message":"serialization failed","request":null}"#;

/// Serialize a server message with its version.
pub fn encode(msg: &ServerMessage) -> String {
	serde_json::to_string(&Envelope { v: PROTOCOL_VERSION, msg })
		.unwrap_or_else(|_| FALLBACK_ERROR.to_owned())
}

/// Serialize a client message with its version (for clients, tests and the benchmark).
pub fn encode_client(msg: &ClientMessage) -> String {
	serde_json::to_string(&Envelope { v: PROTOCOL_VERSION, msg }).unwrap_or_default()
}

/// Decode a server message (for clients, tests and the benchmark).
pub fn decode_server(text: &str) -> Result<ServerMessage, serde_json::Error> {
	serde_json::from_str::<Envelope<ServerMessage>>(text).map(|e| e.msg)
}

/// An error message.
pub fn error(code: ErrorCode, message: impl Into<String>, request: Option<&str>) -> ServerMessage {
	ServerMessage::Error { code, message: message.into(), request: request.map(str::to_owned) }
}

/// Parse an account given as SS58 (any network prefix) or `0x` + 64 hex digits.
pub fn parse_account(s: &str) -> Option<AccountId32> {
	if let Some(digits) = s.strip_prefix("0x") {
		let mut raw = [0u8; 32];
		hex::decode_to_slice(digits, &mut raw).ok()?;
		return Some(AccountId32::new(raw));
	}
	AccountId32::from_ss58check_with_version(s).ok().map(|(a, _)| a)
}

/// An account in SS58 with [`SS58_PREFIX`].
pub fn account_to_ss58(account: &AccountId32) -> String {
	account.to_ss58check_with_version(Ss58AddressFormat::custom(SS58_PREFIX))
}

#[cfg(test)]
mod tests {
	use super::*;

	fn roundtrip_client(msg: ClientMessage) {
		let text = encode_client(&msg);
		assert!(text.starts_with(r#"{"v":1,"type":""#), "{text}");
		assert_eq!(decode_client(&text), Ok(msg));
	}

	fn roundtrip_server(msg: ServerMessage) {
		let text = encode(&msg);
		assert!(text.starts_with(r#"{"v":1,"type":""#), "{text}");
		assert_eq!(decode_server(&text).ok(), Some(msg));
	}

	#[test]
	fn client_messages_round_trip() {
		roundtrip_client(ClientMessage::Auth {
			account: "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY".into(),
			crypto: Crypto::Sr25519,
			signature: HexBytes([7; 64]),
			encoding: Encoding::Wrapped,
			session_id: None,
		});
		roundtrip_client(ClientMessage::Auth {
			account: "0x0101010101010101010101010101010101010101010101010101010101010101".into(),
			crypto: Crypto::Sr25519,
			signature: HexBytes([7; 64]),
			encoding: Encoding::Raw,
			session_id: Some(4),
		});
		roundtrip_client(ClientMessage::Publish { stream_id: 3 });
		roundtrip_client(ClientMessage::Watch { stream_id: 3, session_id: u64::MAX });
		roundtrip_client(ClientMessage::Leave {});
		roundtrip_client(ClientMessage::Signal {
			to: 9,
			payload: SignalPayload::Offer { sdp: "v=0".into() },
		});
		roundtrip_client(ClientMessage::Signal {
			to: 9,
			payload: SignalPayload::Candidate {
				candidate: "candidate:1".into(),
				sdp_mid: Some("0".into()),
				sdp_m_line_index: None,
			},
		});
		roundtrip_client(ClientMessage::Heartbeat {
			session_id: 1,
			cumulative_seconds: 60,
			encoding: Encoding::Raw,
			crypto: Crypto::Ed25519,
			signature: HexBytes([0xab; 64]),
			signer: Signer::VoucherKey,
		});
		roundtrip_client(ClientMessage::Close {
			session_id: 1,
			cumulative_seconds: 61,
			encoding: Encoding::Raw,
			crypto: Crypto::Sr25519,
			signature: HexBytes([0xcd; 64]),
			signer: Signer::VoucherKey,
		});
		roundtrip_client(ClientMessage::Chat { text: "hello \"world\" ✓".into() });
		roundtrip_client(ClientMessage::DeleteChat { id: 5 });
		roundtrip_client(ClientMessage::IceServers {});
	}

	#[test]
	fn server_messages_round_trip() {
		roundtrip_server(ServerMessage::Challenge {
			nonce: HexBytes([1; 32]),
			genesis: HexBytes([2; 32]),
			audience: "https://sidecar.example".into(),
		});
		roundtrip_server(ServerMessage::Authenticated { account: "5abc".into() });
		roundtrip_server(ServerMessage::Joined {
			role: Role::Viewer,
			stream_id: 1,
			peer_id: 2,
			peers: vec![PeerInfo { peer_id: 1, account: "x".into(), role: Role::Publisher }],
			ice_servers: Vec::new(),
			ice_expires_at: None,
		});
		let ice = IceServer {
			urls: vec!["turn:127.0.0.1:3478?transport=udp".into()],
			username: "1700000000:s2".into(),
			credential: "c2Vj".into(),
		};
		roundtrip_server(ServerMessage::Joined {
			role: Role::Publisher,
			stream_id: 1,
			peer_id: 2,
			peers: Vec::new(),
			ice_servers: vec![ice.clone()],
			ice_expires_at: Some(1_700_000_000),
		});
		roundtrip_server(ServerMessage::IceServers {
			ice_servers: vec![ice],
			ice_expires_at: Some(1_700_000_000),
		});
		roundtrip_server(ServerMessage::IceServers {
			ice_servers: Vec::new(),
			ice_expires_at: None,
		});
		// Without TURN, `joined` is what it always was.
		assert_eq!(
			encode(&ServerMessage::Joined {
				role: Role::Viewer,
				stream_id: 1,
				peer_id: 2,
				peers: Vec::new(),
				ice_servers: Vec::new(),
				ice_expires_at: None,
			}),
			r#"{"v":1,"type":"joined","role":"viewer","stream_id":1,"peer_id":2,"peers":[]}"#
		);
		let entry = ChatEntry { id: 1, from: "a".into(), text: "hi".into(), at_ms: 5 };
		roundtrip_server(ServerMessage::ChatHistory { messages: vec![entry.clone()] });
		roundtrip_server(ServerMessage::Chat(entry));
		roundtrip_server(ServerMessage::Signal {
			from: 1,
			payload: SignalPayload::Answer { sdp: "v=0".into() },
		});
		roundtrip_server(ServerMessage::PeerJoined {
			peer_id: 1,
			account: "a".into(),
			role: Role::Viewer,
		});
		roundtrip_server(ServerMessage::PeerLeft { peer_id: 1 });
		roundtrip_server(ServerMessage::Ack { session_id: 1, cumulative_seconds: 2 });
		roundtrip_server(ServerMessage::Closing { session_id: 1, cumulative_seconds: 2 });
		roundtrip_server(ServerMessage::ChatDeleted { id: 1 });
		roundtrip_server(ServerMessage::Stats {
			stream_id: 1,
			viewers: 2,
			seconds_watched: 3,
			owed: "340282366920938463463374607431768211455".into(),
			settled: "0".into(),
		});
		roundtrip_server(ServerMessage::Revoked { reason: RevokeReason::SessionExpired });
		roundtrip_server(error(ErrorCode::AboveMax, "too much", Some("heartbeat")));
	}

	#[test]
	fn wire_format_is_as_documented() {
		assert_eq!(
			encode(&ServerMessage::Ack { session_id: 4, cumulative_seconds: 10 }),
			r#"{"v":1,"type":"ack","session_id":4,"cumulative_seconds":10}"#
		);
		assert_eq!(
			encode(&error(ErrorCode::NotInRoom, "m", None)),
			r#"{"v":1,"type":"error","code":"not_in_room","message":"m","request":null}"#
		);
		assert_eq!(
			encode(&ServerMessage::Revoked { reason: RevokeReason::Banned }),
			r#"{"v":1,"type":"revoked","reason":"banned"}"#
		);
		let text = format!(
			r#"{{"type":"heartbeat","v":1,"session_id":3,"cumulative_seconds":9,"encoding":"wrapped","crypto":"sr25519","signature":"0x{}"}}"#,
			"00".repeat(64)
		);
		let hb = decode_client(&text);
		assert!(matches!(
			hb,
			Ok(ClientMessage::Heartbeat { session_id: 3, signer: Signer::Viewer, .. })
		));
		// A page's heartbeat names its voucher key; an unknown signer is refused.
		let keyed = text.replace(r#""v":1,"#, r#""v":1,"signer":"voucher_key","#);
		assert!(matches!(
			decode_client(&keyed),
			Ok(ClientMessage::Heartbeat { signer: Signer::VoucherKey, .. })
		));
		let unknown = text.replace(r#""v":1,"#, r#""v":1,"signer":"the_sidecar","#);
		assert_eq!(decode_client(&unknown).map_err(|e| e.code), Err(ErrorCode::BadJson));
		assert_eq!(decode_client(r#"{"v":1,"type":"leave"}"#), Ok(ClientMessage::Leave {}));
	}

	fn code_of(text: &str) -> ErrorCode {
		match decode_client(text) {
			Ok(m) => panic!("{text} decoded to {m:?}"),
			Err(e) => e.code,
		}
	}

	#[test]
	fn bad_input_is_classified() {
		assert_eq!(code_of("not json"), ErrorCode::BadJson);
		assert_eq!(code_of(""), ErrorCode::BadJson);
		assert_eq!(code_of("[1,2]"), ErrorCode::BadJson);
		assert_eq!(code_of("null"), ErrorCode::BadJson);
		assert_eq!(code_of(r#"{"type":"leave"}"#), ErrorCode::BadJson);
		assert_eq!(code_of(r#"{"v":1}"#), ErrorCode::BadJson);
		assert_eq!(code_of(r#"{"v":1,"type":7}"#), ErrorCode::BadJson);
		assert_eq!(code_of(r#"{"v":2,"type":"leave"}"#), ErrorCode::UnsupportedVersion);
		assert_eq!(code_of(r#"{"v":"1","type":"leave"}"#), ErrorCode::UnsupportedVersion);
		assert_eq!(code_of(r#"{"v":2,"type":"whatever","x":[]}"#), ErrorCode::UnsupportedVersion);
		assert_eq!(code_of(r#"{"v":1,"type":"dance"}"#), ErrorCode::UnknownType);
		assert_eq!(code_of(r#"{"v":1,"type":"watch","stream_id":1}"#), ErrorCode::BadJson);
		assert_eq!(
			code_of(r#"{"v":1,"type":"watch","stream_id":-1,"session_id":1}"#),
			ErrorCode::BadJson
		);
		assert_eq!(
			code_of(
				r#"{"v":1,"type":"auth","account":"x","crypto":"ecdsa","signature":"0x00","encoding":"raw"}"#
			),
			ErrorCode::BadJson
		);
		// Signatures must be exactly 64 bytes.
		let short = format!(
			r#"{{"v":1,"type":"heartbeat","session_id":1,"cumulative_seconds":1,"encoding":"raw","crypto":"sr25519","signature":"0x{}"}}"#,
			"00".repeat(63)
		);
		assert_eq!(code_of(&short), ErrorCode::BadJson);
		let err = decode_client(r#"{"v":1,"type":"signal","to":1,"payload":{"kind":"bogus"}}"#)
			.unwrap_err();
		assert_eq!(err.code, ErrorCode::BadJson);
		assert_eq!(err.request.as_deref(), Some("signal"));
		// Deeply nested garbage must not crash anything.
		let deep = "[".repeat(100_000);
		assert_eq!(code_of(&deep), ErrorCode::BadJson);
	}

	#[test]
	fn accounts_parse_from_ss58_and_hex() {
		let alice = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
		let a = parse_account(alice).unwrap();
		assert_eq!(account_to_ss58(&a), alice);
		let hex = format!("0x{}", hex::encode(<[u8; 32]>::from(a.clone())));
		assert_eq!(parse_account(&hex), Some(a));
		assert_eq!(parse_account("0x1234"), None);
		assert_eq!(parse_account("5Grwva"), None);
		assert_eq!(parse_account(""), None);
	}
}

//! `docs/API.md` against the `vilokanam_*` RPC module: every method the module registers is
//! documented there as a heading or an inline code span, and the doc names no `vilokanam_*`
//! method the module does not register.
//!
//! The names come from the real module, not from a list kept here: jsonrpsee's `#[rpc(server)]`
//! generates `VilokanamApiServer::into_rpc`, which registers every method, subscription and
//! unsubscription of the trait in `src/lib.rs`, and `RpcModule::method_names` lists them. The
//! notification a subscription sends (its `"method"`) is not among those names, so each
//! subscription is called once and the name is read from its first notification.
//!
//! `into_rpc` is the same for every implementor of the trait, so the module is built from a
//! stub ([`Stub`]) rather than from [`vilokanam_rpc::Vilokanam`], which needs a full client
//! (runtime API, header backend, block import notifications) to exist. The stub's methods are
//! never called; only its subscription runs, to send one notification.
//!
//! A method name, in the doc, is `vilokanam_` followed by letters and digits as a whole word
//! (`vilokanam_liveStreams`). Longer identifiers with further underscores (metrics such as
//! `vilokanam_sidecar_connections`) and the wildcard `vilokanam_*` are not method names. Inline
//! code spans are read one line at a time, between pairs of single backticks, outside fenced
//! code blocks; names anywhere (code blocks included) count as "named".

use std::{collections::BTreeSet, path::Path, time::Duration};

use jsonrpsee::{
	core::{async_trait, JsonValue, RpcResult, SubscriptionResult},
	types::ErrorObject,
	MethodCallback, PendingSubscriptionSink, RpcModule, SubscriptionMessage,
};
use vilokanam_rpc::{Allowance, Session, Stream, StreamStats, VilokanamApiServer};
use vilokanam_runtime_api::StreamStatus;

/// The module's namespace, as method names start.
const PREFIX: &str = "vilokanam_";

/// A server without a chain: enough for `into_rpc` to register the whole trait.
struct Stub;

fn not_served<T>() -> RpcResult<T> {
	Err(ErrorObject::owned(-32000, "not served by this stub", None::<()>))
}

#[async_trait]
impl VilokanamApiServer<String, String> for Stub {
	fn live_streams(
		&self,
		_category: Option<u32>,
		_offset: Option<u32>,
		_limit: Option<u32>,
		_at: Option<String>,
	) -> RpcResult<Vec<Stream<String>>> {
		not_served()
	}

	fn stream(&self, _id: u64, _at: Option<String>) -> RpcResult<Option<Stream<String>>> {
		not_served()
	}

	fn search_streams(
		&self,
		_query: String,
		_offset: Option<u32>,
		_limit: Option<u32>,
		_at: Option<String>,
	) -> RpcResult<Vec<Stream<String>>> {
		not_served()
	}

	fn streams_by_creator(
		&self,
		_creator: String,
		_offset: Option<u32>,
		_limit: Option<u32>,
		_at: Option<String>,
	) -> RpcResult<Vec<Stream<String>>> {
		not_served()
	}

	fn session(
		&self,
		_id: u64,
		_cumulative_seconds: Option<u64>,
		_at: Option<String>,
	) -> RpcResult<Option<Session<String>>> {
		not_served()
	}

	fn allowance(
		&self,
		_viewer: String,
		_at: Option<String>,
	) -> RpcResult<Option<Allowance<String>>> {
		not_served()
	}

	fn quote(&self, _stream_id: u64, _seconds: u64, _at: Option<String>) -> RpcResult<String> {
		not_served()
	}

	fn earnings(&self, _who: String, _at: Option<String>) -> RpcResult<String> {
		not_served()
	}

	fn following(&self, _who: String, _at: Option<String>) -> RpcResult<Vec<String>> {
		not_served()
	}

	async fn subscribe_stream(
		&self,
		pending: PendingSubscriptionSink,
		id: u64,
	) -> SubscriptionResult {
		let sink = pending.accept().await?;
		let stats = StreamStats {
			id,
			block: "0x00".into(),
			status: StreamStatus::Live,
			current_viewers: 0,
			peak_viewers: 0,
			total_seconds: 0,
			total_earned: "0".into(),
		};
		sink.send(SubscriptionMessage::from_json(&stats)?).await?;
		Ok(())
	}
}

/// What the module answers to.
struct Registered {
	/// What clients call: methods, subscriptions and unsubscriptions.
	methods: BTreeSet<String>,
	/// What its subscriptions send notifications as.
	notifications: BTreeSet<String>,
}

impl Registered {
	fn load() -> Self {
		let module = Stub.into_rpc();
		let methods: BTreeSet<String> = module.method_names().map(str::to_owned).collect();
		assert!(
			!methods.is_empty() && methods.iter().all(|m| m.starts_with(PREFIX)),
			"the module registers methods outside the {PREFIX} namespace: {methods:?}"
		);
		let runtime = jsonrpsee::tokio::runtime::Builder::new_current_thread()
			.enable_all()
			.build()
			.expect("a Tokio runtime");
		let notifications = module
			.method_names()
			.filter(|m| matches!(module.method(m), Some(MethodCallback::Subscription(_))))
			.map(|m| runtime.block_on(notification_name(&module, m)))
			.collect();
		Self { methods, notifications }
	}

	fn all(&self) -> impl Iterator<Item = &String> {
		self.methods.iter().chain(&self.notifications)
	}
}

/// Subscribes with `method` (one parameter: a stream id) and returns the `"method"` of its first
/// notification.
async fn notification_name(module: &RpcModule<Stub>, method: &str) -> String {
	let request = format!(r#"{{"jsonrpc":"2.0","id":0,"method":"{method}","params":[1]}}"#);
	let (response, mut notifications) =
		module.raw_json_request(&request, 16).await.expect("a well-formed request");
	let first = jsonrpsee::tokio::time::timeout(Duration::from_secs(10), notifications.recv())
		.await
		.ok()
		.flatten()
		.unwrap_or_else(|| panic!("{method} sent no notification; it answered {response}"));
	let json: JsonValue = first.parse().unwrap_or_else(|e| panic!("{first}: {e}"));
	json["method"].as_str().unwrap_or_else(|| panic!("no \"method\" in {first}")).to_owned()
}

fn read_doc() -> String {
	let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/API.md");
	std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn is_word(b: u8) -> bool {
	b.is_ascii_alphanumeric() || b == b'_'
}

/// The method names in `text` (see the module documentation).
fn method_names_in(text: &str) -> Vec<String> {
	let bytes = text.as_bytes();
	let mut names = Vec::new();
	let mut from = 0;
	while let Some(i) = text[from..].find(PREFIX) {
		let start = from + i;
		let mut end = start + PREFIX.len();
		while end < bytes.len() && is_word(bytes[end]) {
			end += 1;
		}
		from = end;
		let whole_word = start == 0 || !is_word(bytes[start - 1]);
		let rest = &text[start + PREFIX.len()..end];
		if whole_word && !rest.is_empty() && !rest.contains('_') {
			names.push(text[start..end].to_owned());
		}
	}
	names
}

/// The method names `doc` documents: in headings and inline code spans.
fn documented(doc: &str) -> BTreeSet<String> {
	let mut names = BTreeSet::new();
	let mut fenced = false;
	for line in doc.lines() {
		if line.trim_start().starts_with("```") {
			fenced = !fenced;
			continue;
		}
		if fenced {
			continue;
		}
		if line.starts_with('#') {
			names.extend(method_names_in(line));
		}
		for span in line.split('`').skip(1).step_by(2) {
			names.extend(method_names_in(span));
		}
	}
	names
}

#[test]
fn every_registered_method_is_documented() {
	let registered = Registered::load();
	let in_doc = documented(&read_doc());
	let missing: Vec<&String> = registered.all().filter(|m| !in_doc.contains(*m)).collect();
	assert!(
		missing.is_empty(),
		"docs/API.md documents these neither in a heading nor in a code span: {missing:?}"
	);
}

#[test]
fn the_doc_names_only_registered_methods() {
	let registered = Registered::load();
	let named: BTreeSet<String> = method_names_in(&read_doc()).into_iter().collect();
	let unknown: Vec<&String> = named
		.iter()
		.filter(|m| !registered.methods.contains(*m) && !registered.notifications.contains(*m))
		.collect();
	assert!(unknown.is_empty(), "docs/API.md names methods the RPC module lacks: {unknown:?}");
}

#[test]
fn method_names_are_whole_words() {
	assert_eq!(
		method_names_in("`vilokanam_stream`, vilokanam_streamStats; vilokanam_sidecar_up_total"),
		["vilokanam_stream", "vilokanam_streamStats"]
	);
	let none = "vilokanam_* and my_vilokanam_x and #2-json-rpc-vilokanam_";
	assert!(method_names_in(none).is_empty());
	let doc = "# `vilokanam_a`\n```\nvilokanam_b\n```\nsee `vilokanam_c` and vilokanam_d\n";
	let expected: BTreeSet<String> = ["vilokanam_a", "vilokanam_c"].map(str::to_owned).into();
	assert_eq!(documented(doc), expected);
}

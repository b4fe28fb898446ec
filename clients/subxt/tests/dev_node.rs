//! The subxt client against the real dev node (`scripts/test-network.sh` runs it): the node
//! binary is `VILOKANAM_NODE_BIN`, or `vilokanam-node` beside this test's profile directory.

use std::{
	net::TcpListener,
	path::PathBuf,
	process::{Child, Command, Stdio},
	time::{Duration, Instant},
};
use vilokanam_subxt_client::{pay_per_second, Client};

struct DevNode {
	child: Child,
	log: PathBuf,
}

impl Drop for DevNode {
	fn drop(&mut self) {
		let _ = self.child.kill();
		let _ = self.child.wait();
	}
}

fn node_bin() -> PathBuf {
	std::env::var_os("VILOKANAM_NODE_BIN").map(PathBuf::from).unwrap_or_else(|| {
		let exe = std::env::current_exe().expect("the test's own path");
		// target/<profile>/deps/<test> → target/<profile>/vilokanam-node
		exe.parent().and_then(|d| d.parent()).expect("tests run from deps/").join("vilokanam-node")
	})
}

fn free_port() -> u16 {
	TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free port").port()
}

fn start_dev_node(port: u16) -> DevNode {
	let bin = node_bin();
	assert!(
		bin.exists(),
		"{} not found: build vilokanam-node or set VILOKANAM_NODE_BIN",
		bin.display()
	);
	let log = std::env::temp_dir().join(format!("vilokanam-subxt-node-{port}.log"));
	let file = std::fs::File::create(&log).expect("a log file");
	let child = Command::new(bin)
		.args(["--dev", "--tmp", "--no-telemetry", "--no-mdns", "--no-prometheus"])
		.args(["--rpc-port", &port.to_string(), "--port", &free_port().to_string()])
		.stdout(Stdio::null())
		.stderr(file)
		.spawn()
		.expect("the node starts");
	DevNode { child, log }
}

#[tokio::test(flavor = "multi_thread")]
async fn subxt_runs_the_pay_per_second_flow_on_the_dev_node() {
	let port = free_port();
	let node = start_dev_node(port);
	let url = format!("ws://127.0.0.1:{port}");
	let deadline = Instant::now() + Duration::from_secs(60);
	while Client::connect(&url).await.is_err() {
		assert!(Instant::now() < deadline, "no RPC in 60 s: see {}", node.log.display());
		tokio::time::sleep(Duration::from_millis(500)).await;
	}
	let report = pay_per_second(&url, 1_000_000_000)
		.await
		.unwrap_or_else(|e| panic!("{e:?} (node log: {})", node.log.display()));
	assert_eq!(report.refunded, 57 * 1_000_000_000);
	println!("{report:?}");
}

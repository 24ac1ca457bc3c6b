//! `tests/support/aws_proxy.py` in front of a moto: throttles, denies, slows and counts.

use super::moto::Moto;
use super::workspace_root;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub struct Proxy {
    pub endpoint: String,
    child: Child,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proxy {
    /// `throttle`: share of requests answered with throttling errors; `deny`: services
    /// (comma-separated) answered with access denied; `delay_ms` before every request.
    pub fn start(moto: &Moto, throttle: f64, deny: &str, delay_ms: u32) -> Self {
        Self::start_with(moto, throttle, deny, delay_ms, None)
    }

    /// Also answering CloudTrail's ListPublicKeys from a `list-public-keys` file.
    pub fn start_with(
        moto: &Moto,
        throttle: f64,
        deny: &str,
        delay_ms: u32,
        public_keys: Option<&std::path::Path>,
    ) -> Self {
        let script = workspace_root().join("crates/driftlog/tests/support/aws_proxy.py");
        let mut cmd = Command::new("python3");
        if let Some(keys) = public_keys {
            cmd.arg(&script).arg("--public-keys").arg(keys);
        } else {
            cmd.arg(&script);
        }
        let mut child = cmd
            .args([
                "--upstream",
                &moto.endpoint,
                "--throttle",
                &throttle.to_string(),
            ])
            .args([
                "--deny",
                deny,
                "--seed",
                "7",
                "--delay-ms",
                &delay_ms.to_string(),
            ])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the proxy");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("proxy stdout"))
            .read_line(&mut line)
            .expect("proxy port");
        let port: u16 = line.trim().parse().expect("proxy port");
        Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
        }
    }

    /// What the proxy has seen so far.
    pub fn stats(&self) -> Value {
        let out = Command::new("python3")
            .arg("-c")
            .arg(format!(
                "import urllib.request;print(urllib.request.urlopen('{}/__proxy/stats').read().decode())",
                self.endpoint
            ))
            .output()
            .expect("python3");
        serde_json::from_slice(&out.stdout).expect("proxy stats")
    }
}

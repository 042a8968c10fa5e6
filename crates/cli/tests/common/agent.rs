//! `inbound agent` started on a free port, driven with curl's lines as MASV Agent
//! scripts drive it.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use inbound_sim::Sim;
use serde_json::Value;

pub struct Agent {
    child: Child,
    pub port: u16,
    data: std::path::PathBuf,
}

impl Agent {
    pub fn start(sim: &Sim, data: &Path, extra: &[&str]) -> Self {
        Self::start_with_env(sim, data, extra, &[])
    }

    /// Started with these environment variables besides the simulator's API URL.
    pub fn start_with_env(sim: &Sim, data: &Path, extra: &[&str], env: &[(&str, &str)]) -> Self {
        Self::launch(sim, data, extra, env, &[])
    }

    /// Started as the unprivileged user `nobody` (the test must run as root; `data`
    /// must not exist yet, in a folder anyone may write to).
    pub fn start_as_nobody(sim: &Sim, data: &Path) -> Self {
        Self::launch(
            sim,
            data,
            &[],
            &[],
            &[
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
            ],
        )
    }

    fn launch(
        sim: &Sim,
        data: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
        prefix: &[&str],
    ) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = match prefix.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(env!("CARGO_BIN_EXE_inbound"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_inbound")),
        };
        let child = command
            .args(["agent", "--listen", &format!("127.0.0.1:{port}")])
            .args(extra)
            .env("MASV_API_URL", sim.api_url())
            .env("INBOUND_DATA_DIR", data)
            .env("INBOUND_NO_KEYRING", "1")
            // The default provisioning file is looked for here, not in the tester's own
            // configuration.
            .env("XDG_CONFIG_HOME", data)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the agent did not start listening"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self {
            child,
            port,
            data: data.to_owned(),
        }
    }

    pub fn base(&self) -> String {
        format!("http://localhost:{}/api/v1", self.port)
    }

    /// Sends what these curl arguments say; returns the status code and the parsed body.
    pub fn curl(&self, args: &[&str]) -> (u16, Value) {
        // Wine reports no owning process for a TCP connection, so under it the agent
        // cannot tell its own user's scripts from others' and asks for the token (on
        // Linux the same lines go without it; see scripts/windows-skips.txt).
        let bearer = std::fs::read_to_string(self.data.join("agent-token"))
            .ok()
            .filter(|_| cfg!(windows))
            .map(|t| format!("Authorization: Bearer {}", t.trim()));
        let mut args = args.to_vec();
        if let Some(b) = &bearer
            && !args.iter().any(|a| a.starts_with("Authorization:"))
        {
            args.splice(0..0, ["-H", b.as_str()]);
        }
        self.curl_without_token(&args)
    }

    /// As [`Agent::curl`], never with the token (what a web page or a rebinding
    /// attack sends).
    pub fn curl_without_token(&self, args: &[&str]) -> (u16, Value) {
        let answer = super::curl::send(args);
        let value =
            serde_json::from_str(&answer.body).unwrap_or(Value::String(answer.body.clone()));
        (answer.status, value)
    }

    /// `method` on a path under `/api/v1`, with a JSON body if any.
    pub fn send(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.base());
        let mut args = vec![
            "-X",
            method,
            "-H",
            "Content-Type: application/json",
            url.as_str(),
        ];
        let text = body.map(Value::to_string);
        if let Some(t) = &text {
            args.extend(["-d", t.as_str()]);
        }
        self.curl(&args)
    }

    /// `PUT` of a JSON body to a path under `/api/v1`.
    pub fn put(&self, path: &str, body: &str) -> (u16, Value) {
        self.curl(&[
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/json",
            &format!("{}{path}", self.base()),
            "-d",
            body,
        ])
    }

    pub fn download(&self, id: &str) -> Value {
        let (code, v) = self.curl(&["-X", "GET", &format!("{}/downloads/{id}", self.base())]);
        assert_eq!(code, 200, "{v}");
        v
    }

    pub fn wait_state(&self, id: &str, state: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.download(id);
            if v["state"] == state {
                return v;
            }
            assert!(Instant::now() < deadline, "not {state} in time: {v}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn start_download(&self, link: &str, dst: &Path, password: Option<&str>) -> String {
        let mut body = serde_json::json!({"url": link, "dst_folder": dst});
        if let Some(p) = password {
            body["password"] = p.into();
        }
        self.post_download(&body)
    }

    /// `POST /downloads` with this body; returns the status code and the answer.
    pub fn post(&self, body: &Value) -> (u16, Value) {
        self.curl(&[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            &format!("{}/downloads", self.base()),
            "-d",
            &body.to_string(),
        ])
    }

    /// `POST /downloads` with this body; returns the download id.
    pub fn post_download(&self, body: &Value) -> String {
        let (code, v) = self.post(body);
        assert_eq!(code, 200, "{v}");
        v["download_id"].as_str().unwrap().to_owned()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill();
    }
}

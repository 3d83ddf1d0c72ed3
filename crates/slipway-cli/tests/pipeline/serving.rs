//! Running `slipway serve` in a test: where it listens, waiting for a build, stopping it however the test ends.
// Each test file uses a part of it.
#![allow(dead_code)]

use super::scenario::Scenario;

/// Starts `command` (a `slipway serve`), its output piped for [`address_of`] and its log to `log`.
pub fn spawn_serve(command: &mut std::process::Command, log: std::process::Stdio) -> std::process::Child {
    command.stdout(std::process::Stdio::piped()).stderr(log).spawn().expect("slipway serve starts")
}

/// `slipway serve` of the scenario's index (looked at every second) without workers, `extra` arguments added,
/// once it listens.
pub fn serve_index_without_workers(s: &Scenario, extra: &[&str], log: std::process::Stdio) -> std::process::Child {
    let index = s.index_dir().display().to_string();
    let args = ["serve", "--index", &index, "--index-poll-interval", "1s", "--no-workers", "--listen", "127.0.0.1:0"];
    let mut serve = spawn_serve(&mut s.command(&[&args[..], extra].concat()), log);
    address_of(&mut serve);
    serve
}

/// The address `slipway serve` prints it serves at.
pub fn address_of(serve: &mut std::process::Child) -> String {
    let stdout = serve.stdout.take().expect("its output");
    std::io::BufRead::lines(std::io::BufReader::new(stdout))
        .map_while(Result::ok)
        .find_map(|line| {
            line.strip_prefix("serving the UI at http://")
                .map(|rest| rest.split('/').next().unwrap_or_default().to_string())
        })
        .expect("serve prints its address")
}

/// `job`'s status once its build `number` succeeded, waiting up to a minute from `since`.
pub fn succeeded(s: &Scenario, job: &str, number: i64, since: std::time::Instant) -> serde_json::Value {
    let image = s.image(job);
    loop {
        let status = s.status().get(&image).cloned().unwrap_or_default();
        if status["build"] == number && status["state"] == "succeeded" {
            return status;
        }
        assert!(since.elapsed() < std::time::Duration::from_secs(60), "no build #{number} within 60 s: {status:#}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Stops `slipway serve` however the test ends.
pub struct ServeGuard<'a>(pub &'a mut std::process::Child);

impl Drop for ServeGuard<'_> {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request to `address` (`host:port`) with a JSON body; the whole answer, head and body.
pub fn http_with(address: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> String {
    let extra: String = headers.iter().map(|(name, value)| format!("{name}: {value}\r\n")).collect();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = std::net::TcpStream::connect(address).expect("the server listens");
    std::io::Write::write_all(&mut stream, request.as_bytes()).expect("sent");
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut stream, &mut answer).expect("an answer");
    answer
}

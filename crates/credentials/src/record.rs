//! `keyless assume --record`: a loopback UDP listener for the AWS SDKs' client-side monitoring (CSM), and the
//! variables that point a command's SDK at it.
//!
//! The SDKs that still emit CSM (botocore, so the AWS CLI v1 and boto3; see docs/permissions.md for the others)
//! send one JSON datagram per API call and per HTTP attempt to `AWS_CSM_HOST:AWS_CSM_PORT` when
//! `AWS_CSM_ENABLED=true`. The listener hands every datagram to [`keyless_iam::record::CsmCollector`], which keeps
//! only service, operation, region and endpoint: the events' `AccessKey` and `SessionToken` are never read.

use std::io;
use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use keyless_iam::record::{CsmCollector, Recording};

/// The `AWS_CSM_CLIENT_ID` keyless sets, so events are recognisable in a shared collector.
pub const CLIENT_ID: &str = "keyless";

/// Largest datagram read: botocore caps its fields (user agent 256, messages 512), so events are far smaller.
const MAX_DATAGRAM: usize = 64 * 1024;

/// A running listener on `127.0.0.1:<ephemeral>`. [`Recorder::finish`] stops it and returns what it heard.
#[derive(Debug)]
pub struct Recorder {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<(Recording, u64)>,
}

impl Recorder {
    /// Binds the loopback listener and starts reading.
    pub fn start() -> io::Result<Recorder> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        let port = socket.local_addr()?.port();
        // A short read timeout lets the thread notice `stop` without a second socket.
        socket.set_read_timeout(Some(Duration::from_millis(50)))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("keyless-csm".into())
            .spawn(move || listen(&socket, &stopping))?;
        Ok(Recorder { port, stop, thread })
    }

    /// The listener's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The variables that make an SDK send its CSM events here.
    pub fn variables(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_CSM_ENABLED", "true".to_string()),
            ("AWS_CSM_HOST", "127.0.0.1".to_string()),
            ("AWS_CSM_PORT", self.port.to_string()),
            ("AWS_CSM_CLIENT_ID", CLIENT_ID.to_string()),
        ]
    }

    /// Stops listening after reading every datagram already delivered (the command has exited, so its events are in
    /// the socket's buffer), and returns the calls with the number of datagrams that were not CSM events.
    pub fn finish(self) -> io::Result<(Recording, u64)> {
        self.stop.store(true, Ordering::SeqCst);
        self.thread
            .join()
            .map_err(|_| io::Error::other("the CSM listener thread panicked"))
    }
}

fn listen(socket: &UdpSocket, stop: &AtomicBool) -> (Recording, u64) {
    let mut collector = CsmCollector::new();
    let mut buffer = vec![0u8; MAX_DATAGRAM];
    loop {
        match socket.recv_from(&mut buffer) {
            Ok((size, _)) => {
                collector.ingest(&buffer[..size]);
            }
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                // Nothing pending: stop only now, so every datagram sent before `finish` is read.
                if stop.load(Ordering::SeqCst) {
                    break;
                }
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            // Another error (ICMP port unreachable bounced to us, ...) ends nothing: keep listening.
            Err(_) => {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
            }
        }
    }
    let ignored = collector.ignored();
    (collector.finish(), ignored)
}

/// Writes `recording` to `path`, merged with the calls already there (several commands of one step can record into
/// one file). The file holds no secrets; it is written whole through a temporary file beside it.
pub fn write_merged(path: &std::path::Path, recording: Recording) -> io::Result<Recording> {
    let mut merged = match std::fs::read_to_string(path) {
        Ok(text) => Recording::parse(&text).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} is not a keyless recording ({e}); name a new file or remove it",
                    path.display()
                ),
            )
        })?,
        Err(error) if error.kind() == io::ErrorKind::NotFound => Recording::new(),
        Err(error) => return Err(error),
    };
    merged.merge(recording);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "recording".into());
    let temporary = path.with_file_name(format!(".{name}.keyless-tmp"));
    std::fs::write(&temporary, merged.to_json_lines())?;
    std::fs::rename(&temporary, path)?;
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_sent_before_finish_are_recorded() {
        let recorder = Recorder::start().unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        let target = ("127.0.0.1", recorder.port());
        for _ in 0..3 {
            client
                .send_to(
                    br#"{"Version":1,"ClientId":"keyless","Type":"ApiCallAttempt","Service":"STS","Api":"GetCallerIdentity","Fqdn":"sts.eu-west-1.amazonaws.com","Region":"eu-west-1","AccessKey":"ASIAXXXXXXXXXXXXXXXX","SessionToken":"secret"}"#,
                    target,
                )
                .unwrap();
            client
                .send_to(
                    br#"{"Version":1,"ClientId":"keyless","Type":"ApiCall","Service":"STS","Api":"GetCallerIdentity","Region":"eu-west-1"}"#,
                    target,
                )
                .unwrap();
        }
        client.send_to(b"hello", target).unwrap();
        let (recording, ignored) = recorder.finish().unwrap();
        assert_eq!(ignored, 1);
        assert_eq!(recording.total(), 3);
        let text = recording.to_json_lines();
        assert!(
            text.contains("\"fqdn\":\"sts.eu-west-1.amazonaws.com\""),
            "{text}"
        );
        assert!(!text.contains("ASIA") && !text.contains("secret"));
    }

    #[test]
    fn recordings_merge_into_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls.jsonl");
        let line = "{\"v\":1,\"service\":\"S3\",\"api\":\"PutObject\",\"region\":\"eu-west-1\",\"fqdn\":null,\"count\":2}\n";
        std::fs::write(&path, line).unwrap();
        let merged = write_merged(&path, Recording::parse(line).unwrap()).unwrap();
        assert_eq!(merged.total(), 4);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            line.replace("\"count\":2", "\"count\":4")
        );
        std::fs::write(&path, "not a recording\n").unwrap();
        let error = write_merged(&path, Recording::new()).unwrap_err();
        assert!(error.to_string().contains("line 1"), "{error}");
    }
}

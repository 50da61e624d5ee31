//! LiteLLM's half of an interop suite: a Python script run as a child process, read line by
//! line.
//!
//! The script prints its lines on stdout (`READY`, then answers); each line is read on a
//! blocking thread within a time limit, so a stuck LiteLLM fails the test instead of hanging
//! it. The process is killed and reaped when the [`LiteLlmScript`] is dropped, so a failed
//! assertion never leaves it running.

use std::io::{BufRead, BufReader, Lines};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::time::Duration;

/// A running driver script, its stdout read line by line. Killed and reaped on drop.
#[derive(Debug)]
pub struct LiteLlmScript {
    child: Child,
    lines: Option<Lines<BufReader<ChildStdout>>>,
}

impl LiteLlmScript {
    /// Spawns `command` with its stdout piped to this reader (stdin and stderr as `command`
    /// sets them).
    pub fn spawn(command: &mut Command) -> std::io::Result<Self> {
        let mut child = command.stdout(Stdio::piped()).spawn()?;
        let lines = child.stdout.take().map(|out| BufReader::new(out).lines());
        Ok(Self { child, lines })
    }

    /// The script's stdin.
    ///
    /// # Panics
    ///
    /// If the command did not pipe it (`Stdio::piped()`).
    pub fn stdin(&mut self) -> &mut ChildStdin {
        self.child
            .stdin
            .as_mut()
            .expect("the script's stdin is piped")
    }

    /// The next line of the script's output (`None` once it has closed its stdout), read on a
    /// blocking thread.
    ///
    /// # Panics
    ///
    /// If no line (nor the end of the output) comes within `limit`; `what` names the line
    /// awaited in the message.
    pub async fn next_line(&mut self, limit: Duration, what: &str) -> Option<String> {
        let mut taken = self.lines.take().expect("reader in use");
        let read = tokio::task::spawn_blocking(move || {
            let line = taken.next().transpose().expect("read LiteLLM's output");
            (line, taken)
        });
        let (line, back) = tokio::time::timeout(limit, read)
            .await
            .unwrap_or_else(|_| panic!("LiteLLM: no {what} within {limit:?}"))
            .expect("reader thread");
        self.lines = Some(back);
        line
    }

    /// Waits for the script to exit.
    pub fn wait(&mut self) -> std::io::Result<ExitStatus> {
        self.child.wait()
    }

    /// The script's exit status if it has exited, without waiting.
    pub fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
        self.child.try_wait()
    }
}

impl Drop for LiteLlmScript {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

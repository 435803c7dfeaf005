//! `loyalty simulate`: the program's scenarios over real HTTP (in progress).

/// What a simulation produced.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The conversation, one line per message.
    pub transcript: Vec<String>,
    /// Failed expectations.
    pub failures: Vec<String>,
}

impl Outcome {
    /// Whether every expectation held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// The transcript and the checks, for people.
    pub fn render(&self) -> String {
        let mut out = self.transcript.join("\n");
        out.push('\n');
        for f in &self.failures {
            out.push_str(&format!("FAILED: {f}\n"));
        }
        out
    }
}

/// Why the simulation could not run.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SimulateError(String);

/// Runs the simulation.
///
/// # Errors
/// When its environment cannot be set up.
pub async fn run() -> Result<Outcome, SimulateError> {
    Err(SimulateError("the simulation is not available in this build yet".into()))
}

//! Forwarding the library's log (the `tracing` events of the core and the facade) to the
//! platform logger the app hands in (Logcat, os_log).

use std::sync::{Arc, Once, RwLock};

use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};

/// How much to log, least first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, uniffi::Enum)]
pub enum LogLevel {
    /// Failures.
    Error,
    /// Something went wrong but was handled (a retried request, a refused record).
    Warn,
    /// Milestones (a sync started and finished).
    Info,
    /// Detail for developers.
    Debug,
    /// Everything.
    Trace,
}

impl From<&tracing::Level> for LogLevel {
    fn from(l: &tracing::Level) -> Self {
        match *l {
            tracing::Level::ERROR => LogLevel::Error,
            tracing::Level::WARN => LogLevel::Warn,
            tracing::Level::INFO => LogLevel::Info,
            tracing::Level::DEBUG => LogLevel::Debug,
            _ => LogLevel::Trace,
        }
    }
}

/// The app's platform logger (Android `Log`, iOS `os_log`). Called from any thread.
#[uniffi::export(with_foreign)]
pub trait Logger: Send + Sync {
    /// One log line: its level, the module it came from, and the message with its fields.
    fn log(&self, level: LogLevel, target: String, message: String);
}

type Sink = Option<(Arc<dyn Logger>, LogLevel)>;

static SINK: RwLock<Sink> = RwLock::new(None);
static INSTALL: Once = Once::new();

/// Sends the library's log lines at `level` or more severe to `logger`, replacing any
/// logger set before. If the host process already installed a `tracing` subscriber of
/// its own (a Rust app), that one keeps the log.
#[uniffi::export]
pub fn set_logger(logger: Arc<dyn Logger>, level: LogLevel) {
    *SINK.write().unwrap_or_else(|p| p.into_inner()) = Some((logger, level));
    INSTALL.call_once(|| {
        let subscriber = tracing_subscriber::registry().with(Forward);
        let _ = tracing::subscriber::set_global_default(subscriber);
    });
}

/// Stops forwarding log lines.
#[uniffi::export]
pub fn clear_logger() {
    *SINK.write().unwrap_or_else(|p| p.into_inner()) = None;
}

struct Forward;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Forward {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let level = LogLevel::from(event.metadata().level());
        let logger = match SINK.read().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some((l, max)) if level <= *max => l.clone(),
            _ => return,
        };
        let mut line = Line::default();
        event.record(&mut line);
        logger.log(level, event.metadata().target().to_string(), line.0);
    }
}

/// The message first, then `field=value` for the other fields.
#[derive(Default)]
struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let rest = std::mem::take(&mut self.0);
            self.0 = format!("{value:?}");
            if !rest.is_empty() {
                self.0.push(' ');
                self.0.push_str(&rest);
            }
        } else {
            if !self.0.is_empty() {
                self.0.push(' ');
            }
            self.0.push_str(&format!("{}={value:?}", field.name()));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        // Strings without the quotes Debug would add.
        self.record_debug(field, &format_args!("{value}"));
    }
}

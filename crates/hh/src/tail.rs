//! `hh tail`: follow a project's events as they commit, one line each, like
//! `kubectl logs -f`.
//!
//! ```text
//! hh tail --filter event_type=model --server http://127.0.0.1:8080 --api-key hh_...
//! 12:04:31.118 model   openai.chat                  812ms    1 240 tok   $0.0031
//! 12:04:31.902 tool    send_reply                    95ms                          ✗ smtp timed out
//! ```
//!
//! It reads `GET /v1/events/stream` and, when the connection drops or the
//! server says this client lagged, reconnects with `Last-Event-ID` so the
//! server replays what it missed from the store. Colours are on only when
//! stdout is a terminal and `NO_COLOR` is unset.

use std::io::{BufRead, BufReader, Write};
use std::time::Duration;

use anstyle::{AnsiColor, Style};
use anyhow::Result;
use clap::Args;
use honeyhive_model::filter::format_datetime_ms;
use honeyhive_model::rollup::rollup;
use honeyhive_model::{Event, EventType};
use honeyhive_transport::{Backoff, is_retryable_status, retry_after};
use serde_json::Value;

/// Options of `hh tail`.
#[derive(Args, Debug)]
pub(crate) struct TailArgs {
    /// A filter: `field=value`, `field!=value`, `field>number`, `field<number`,
    /// `field~text` (contains), `field?` (exists), or a HoneyHive filter as JSON.
    /// Repeat to AND them.
    #[arg(long = "filter", value_name = "FILTER")]
    filters: Vec<String>,
    /// Server URL.
    #[arg(
        long = "server",
        env = "HH_API_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    server: String,
    /// API key of the project to follow.
    #[arg(long = "api-key", env = "HH_API_KEY", hide_env_values = true)]
    api_key: String,
}

/// How one connection ended.
enum Ended {
    /// The server closed the stream (it is shutting down, or the network dropped).
    Closed,
    /// The server said this client missed events: read them back at once.
    Lagged,
}

/// Why a connection failed.
enum Failure {
    /// Worth retrying (after the server's `Retry-After`, if it sent one).
    Retry(anyhow::Error, Option<Duration>),
    /// Retrying cannot help (a bad key or filter).
    Fatal(anyhow::Error),
}

/// One server-sent event.
#[derive(Debug, Default)]
struct Message {
    event: String,
    id: Option<u64>,
    data: String,
}

/// Runs `hh tail` until interrupted (or a refusal retrying cannot fix).
pub(crate) fn run(args: TailArgs) -> Result<()> {
    let filters = args
        .filters
        .iter()
        .map(|spec| crate::filters::parse(spec).map(|f| f.to_json()))
        .collect::<Result<Vec<Value>>>()?;
    let url = format!(
        "{}/v1/events/stream?filters={}",
        args.server.trim_end_matches('/'),
        crate::client::encode_query(&Value::Array(filters).to_string())
    );
    let agent = crate::client::agent(None);
    let mut out = anstream::stdout();
    let mut cursor = None;
    let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(10));
    let mut failures = 0u32;
    loop {
        let outcome = follow(&agent, &url, &args.api_key, &mut cursor, &mut out);
        let wait = match outcome {
            Ok(Ended::Lagged) => {
                failures = 0;
                continue;
            }
            Ok(Ended::Closed) => {
                eprintln!("hh tail: the server closed the stream; reconnecting");
                None
            }
            Err(Failure::Fatal(e)) => return Err(e),
            Err(Failure::Retry(e, retry_after)) => {
                eprintln!("hh tail: {e:#}; retrying");
                retry_after
            }
        };
        failures += 1;
        std::thread::sleep(backoff.delay(failures, wait));
    }
}

/// One connection: prints its events until it ends; `cursor` follows the
/// last id read.
fn follow(
    agent: &ureq::Agent,
    url: &str,
    api_key: &str,
    cursor: &mut Option<u64>,
    out: &mut impl Write,
) -> Result<Ended, Failure> {
    let mut request = agent
        .get(url)
        .header("Authorization", &format!("Bearer {api_key}"))
        .header("Accept", "text/event-stream");
    if let Some(id) = cursor {
        request = request.header("Last-Event-ID", &id.to_string());
    }
    let mut response = request
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .map_err(|e| Failure::Retry(anyhow::Error::new(e).context(url.to_string()), None))?;
    let status = response.status().as_u16();
    if status != 200 {
        let wait = retry_after(response.headers());
        let body: Value = response.body_mut().read_json().unwrap_or(Value::Null);
        let error = &body["error"];
        let message = error["message"].as_str().unwrap_or("no error message");
        let hint = error["hint"]
            .as_str()
            .map(|h| format!(" ({h})"))
            .unwrap_or_default();
        let e = anyhow::anyhow!("the server answered {status}: {message}{hint}");
        return Err(if is_retryable_status(status) {
            Failure::Retry(e, wait)
        } else {
            Failure::Fatal(e)
        });
    }
    let reader = BufReader::new(response.into_body().into_reader());
    let mut message = Message::default();
    for line in reader.lines() {
        let line = line.map_err(|e| Failure::Retry(anyhow::Error::new(e), None))?;
        if !line.is_empty() {
            if let Some(value) = line.strip_prefix("event: ") {
                message.event = value.to_string();
            } else if let Some(value) = line.strip_prefix("id: ") {
                message.id = value.trim().parse().ok();
            } else if let Some(value) = line.strip_prefix("data: ") {
                message.data.push_str(value);
            }
            continue;
        }
        let done = std::mem::take(&mut message);
        match done.event.as_str() {
            "ready" => {
                if cursor.is_none() {
                    eprintln!("hh tail: following {url}");
                }
                *cursor = done.id.or(*cursor);
            }
            "created" | "updated" => {
                let event: Event = serde_json::from_str(&done.data)
                    .map_err(|e| Failure::Retry(anyhow::Error::new(e), None))?;
                let line = render(&event, done.event == "updated");
                writeln!(out, "{line}").map_err(|e| Failure::Fatal(e.into()))?;
                *cursor = done.id.or(*cursor);
            }
            "lagged" => {
                let missed: Value = serde_json::from_str(&done.data).unwrap_or(Value::Null);
                eprintln!(
                    "hh tail: {} events missed while this terminal lagged; reading them back",
                    missed["missed"]
                );
                return Ok(Ended::Lagged);
            }
            _ => {}
        }
    }
    Ok(Ended::Closed)
}

fn paint(style: Style, text: &str) -> String {
    format!("{}{text}{}", style.render(), style.render_reset())
}

/// Milliseconds as `812ms` or `1.25s`.
fn duration(ms: f64) -> String {
    if !ms.is_finite() || ms < 0.0 {
        String::new()
    } else if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else {
        format!("{:.2}s", ms / 1000.0)
    }
}

/// One event as one line: time, type, name, duration, tokens, cost, error.
fn render(event: &Event, updated: bool) -> String {
    let time = format_datetime_ms(event.start_time);
    let time = time.get(11..23).unwrap_or(&time);
    let colour = match event.event_type {
        EventType::Session => AnsiColor::Green,
        EventType::Chain => AnsiColor::Blue,
        EventType::Model => AnsiColor::Magenta,
        EventType::Tool => AnsiColor::Cyan,
    };
    let kind = Style::new().bold().fg_color(Some(colour.into()));
    let usage = rollup([event]);
    let tokens = if usage.total_tokens > 0 {
        format!("{} tok", usage.total_tokens)
    } else {
        String::new()
    };
    let cost = if usage.cost > 0.0 {
        format!("${:.4}", usage.cost)
    } else {
        String::new()
    };
    let mut line = format!(
        "{} {} {} {:>9} {:>10} {:>9}",
        paint(Style::new().dimmed(), time),
        paint(kind, &format!("{:<7}", event.event_type.as_str())),
        paint(Style::new().bold(), &format!("{:<28}", event.event_name)),
        duration(event.duration),
        tokens,
        cost,
    );
    if let Some(error) = event.error.as_deref().filter(|e| !e.is_empty()) {
        let first = error.lines().next().unwrap_or_default();
        let short: String = first.chars().take(120).collect();
        let red = Style::new().fg_color(Some(AnsiColor::Red.into()));
        line.push_str(&format!("  {}", paint(red, &format!("✗ {short}"))));
    }
    if updated {
        line.push_str(&format!("  {}", paint(Style::new().dimmed(), "(updated)")));
    }
    line.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_event_is_one_line_with_its_figures() {
        let mut event = Event {
            event_type: EventType::Model,
            event_name: "openai.chat".into(),
            start_time: 1_709_209_815_250.0,
            duration: 812.0,
            error: Some("rate limited\nretry later".into()),
            ..Event::default()
        };
        event.metadata.insert("total_tokens".into(), json!(1240));
        event.metadata.insert("cost".into(), json!(0.0031));
        let plain = anstream::adapter::strip_str(&render(&event, true)).to_string();
        let words: Vec<&str> = plain.split_whitespace().collect();
        assert_eq!(
            words,
            [
                "12:30:15.250",
                "model",
                "openai.chat",
                "812ms",
                "1240",
                "tok",
                "$0.0031",
                "✗",
                "rate",
                "limited",
                "(updated)"
            ]
        );
        assert!(
            render(&event, false).contains("\u{1b}["),
            "styled for a terminal"
        );
        assert_eq!(duration(2500.0), "2.50s");
    }

    #[test]
    fn filters_travel_percent_encoded() {
        assert_eq!(crate::client::encode_query("a b/[]"), "a%20b%2F%5B%5D");
    }
}

use honeyhive::trace;

struct NotSerialize;

#[trace]
fn plain(a: i64, b: &str) -> i64 {
    a + b.len() as i64
}

#[trace(event_type = "model", name = "llm", skip(secret), metadata = serde_json::json!({"k": 1}), config = serde_json::json!({"t": 0.1}))]
fn options(prompt: String, secret: &str, opaque: NotSerialize) -> Result<String, std::io::Error> {
    let _ = (secret, opaque);
    let value: i32 = "1".parse().map_err(std::io::Error::other)?;
    Ok(format!("{prompt}{value}"))
}

#[trace(event_type = "chain")]
async fn asynchronous(x: u8) -> Option<u8> {
    Some(x)
}

#[trace]
fn generic<T: std::fmt::Debug>(value: T) -> impl std::fmt::Debug {
    value
}

#[trace]
fn borrowed<'a>(s: &'a str) -> &'a str {
    s
}

struct Service;

#[trace(event_type = "tool")]
impl Service {
    pub fn run(&self, v: i64) -> i64 {
        v
    }

    pub async fn run_async(&mut self) -> () {}

    fn private(&self) {}

    #[trace(name = "custom")]
    pub fn named(&self) {
        self.private()
    }
}

fn main() {
    let _ = plain(1, "a");
    let _ = options("p".into(), "s", NotSerialize);
    let _ = asynchronous(1);
    let _ = generic(1);
    let _ = borrowed("x");
    let _ = Service.run(1);
    Service.named();
}

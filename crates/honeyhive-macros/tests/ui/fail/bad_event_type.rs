#[honeyhive::trace(event_type = "llm")]
fn f() {}

fn main() {
    f();
}

#[honeyhive::trace(kind = "tool")]
fn f() {}

fn main() {
    f();
}

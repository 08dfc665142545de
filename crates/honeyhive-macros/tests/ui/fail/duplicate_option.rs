#[honeyhive::trace(name = "a", name = "b")]
fn f() {}

fn main() {
    f();
}

//! Profiling aid: validates manifests in a loop (`--invalid` for the differential set), for `perf record`.
#[path = "../tests/common/cases.rs"]
mod cases;
use imgmanifest::{validate, Mode, Options};
use std::time::Instant;
fn main() {
    let ms: Vec<_> = if std::env::args().any(|a| a == "--invalid") {
        cases::all_cases(3000)
    } else {
        cases::bases().iter().map(|m| imgmanifest::upgrade(m).unwrap()).collect()
    };
    for mode in [Mode::Minimal, Mode::Dc, Mode::Minimal, Mode::Dc, Mode::Public, Mode::Private] {
        let o = Options::new(mode);
        let s = Instant::now();
        let n: usize = std::env::var("N").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
        for i in 0..n {
            std::hint::black_box(validate(&ms[i % ms.len()], &o));
        }
        println!("{mode:?}: {:.3} us per validation", s.elapsed().as_secs_f64() / n as f64 * 1e6);
    }
}

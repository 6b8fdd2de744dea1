#![no_main]
//! See saferound_server::fuzz::change_chunks.

libfuzzer_sys::fuzz_target!(
    init: { saferound_fuzz_init() },
    |data: &[u8]| saferound_server::fuzz::change_chunks(data)
);

/// libfuzzer aborts on any panic; a panic inside the server's guarded Automerge calls is
/// a handled refusal (the server answers it), so only those unwind.
fn saferound_fuzz_init() {
    let abort = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !saferound_server::sync::in_guarded_section() {
            abort(info);
        }
    }));
}

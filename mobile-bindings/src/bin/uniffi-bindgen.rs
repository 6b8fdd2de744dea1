//! UniFFI's bindings generator, built from this crate so its version always matches the
//! library's: `uniffi-bindgen generate --language kotlin|swift|python <libsaferound_mobile.so>`.
//! Use `scripts/bindings.sh`, which builds the library and runs this for all three.

fn main() {
    uniffi::uniffi_bindgen_main()
}

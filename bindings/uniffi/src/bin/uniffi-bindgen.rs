//! UniFFI's generator, pinned to this crate's UniFFI version: writes the Swift, Kotlin and
//! Python sources for the built `polyarch_uniffi` library.

fn main() {
    uniffi::uniffi_bindgen_main()
}

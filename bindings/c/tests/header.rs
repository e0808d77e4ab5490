//! `include/polyarch.h` is what cbindgen makes of the sources today. After changing the C
//! API, `POLYARCH_BLESS=1 cargo test -p polyarch-c --test header` rewrites it.

use std::path::Path;

#[test]
fn the_checked_in_header_is_current() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("config");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen")
        .write(&mut generated);
    let generated = String::from_utf8(generated).expect("utf-8");
    let path = crate_dir.join("include/polyarch.h");
    if std::env::var_os("POLYARCH_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write the header");
        return;
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "include/polyarch.h is out of date: run `POLYARCH_BLESS=1 cargo test -p polyarch-c \
         --test header` and commit the result"
    );
}

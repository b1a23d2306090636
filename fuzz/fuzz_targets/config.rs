//! Fuzz the keepalived.conf parser: any bytes must give a model or diagnostics, never a
//! panic, hang or stack overflow. Includes are not followed (the input cannot walk the disk).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use lvsd::config::{load_str, ConfigOptions};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let opts = ConfigOptions {
        config_id: Some("fuzz".into()),
        check_interfaces: false,
        follow_includes: false,
    };
    match load_str(Path::new("/nonexistent/fuzz.conf"), &text, &opts) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                let _ = w.render(&loaded.sources);
            }
            let _ = serde_json_dump(&loaded.config);
        }
        Err(problems) => {
            let _ = problems.render();
        }
    }
});

fn serde_json_dump(config: &lvsd::config::Config) -> String {
    format!("{config:?}")
}

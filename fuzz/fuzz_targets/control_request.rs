//! Fuzz the control socket's request parsing and the naming of virtual and
//! real servers (`lvsd ctl`): any bytes give a command or an error, never a
//! panic.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use lvsd::config::{load_str, ConfigOptions};
use lvsd::daemon::control::{parse_request, Command};
use lvsd::director::{admin::resolve, translate, DirectorSpec};

const CONF: &str = "virtual_server 10.0.0.100 80 { protocol TCP\n real_server 10.0.0.4 80 { }\n real_server 10.0.0.5 80 { } }\n\
virtual_server 10.0.0.100 80 { protocol UDP\n real_server 10.0.0.4 80 { } }\n\
virtual_server fwmark 7 { real_server 2001:db8::4 443 { } }\n";

fn spec() -> &'static DirectorSpec {
    static SPEC: OnceLock<DirectorSpec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let opts = ConfigOptions {
            config_id: Some("fuzz".into()),
            check_interfaces: false,
            follow_includes: false,
        };
        let loaded = load_str(Path::new("/nonexistent/fuzz.conf"), CONF, &opts)
            .unwrap_or_else(|_| panic!("the fuzz config loads"));
        translate(&loaded.config).unwrap_or_else(|e| panic!("{e}"))
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(Command::Admin {
        virtual_server,
        real_server,
        ..
    }) = parse_request(data)
    {
        let _ = resolve(spec(), &virtual_server, &real_server);
    }
    // Also the raw text as "VS<newline>RS", the shape `lvsd ctl` sends.
    let text = String::from_utf8_lossy(data);
    let (vs, rs) = text.split_once('\n').unwrap_or((&text, ""));
    let _ = resolve(spec(), vs, rs);
});

//! Any bytes as a capture: reading never panics, and whatever was read analyzes (TCP, TLS
//! with the embedded key log, HTTP) and renders without panicking either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use synack_trace::capture;
use synack_trace::ladder::{self, LadderOptions};

fuzz_target!(|data: &[u8]| {
    let Ok(c) = capture::read(data) else {
        return;
    };
    let trace = c.recorder.finish();
    let _ = ladder::render(&trace, None, &LadderOptions::default());
    let mut out = Vec::new();
    let _ = synack_trace::json::write_lines(&trace, None, &mut out);
    let _ = synack_trace::html::render(&trace, None, &Default::default());
});

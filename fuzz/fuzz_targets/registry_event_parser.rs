//! A registry notification body (`POST`ed to Slipway's notifications endpoint, so untrusted): the envelope
//! parser and `tag_push` must answer or refuse, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_registry::notifications::parse_envelope;

fuzz_target!(|data: &[u8]| {
    let seen = match parse_envelope(data) {
        Ok(envelope) => envelope
            .events
            .iter()
            .filter_map(|event| event.tag_push())
            .map(|push| push.tag.len() + push.repository.len() + push.digest.len() + push.event_id.len())
            .sum(),
        Err(err) => err.to_string().len(),
    };
    std::hint::black_box(seen);
});

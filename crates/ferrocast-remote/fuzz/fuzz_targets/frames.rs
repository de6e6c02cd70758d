//! Arbitrary bytes on an inbound connection: the frame splitter and the
//! decoders must reject them with errors, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ferrocast_remote::fuzzing::decode_frames(data);
});

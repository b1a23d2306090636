//! Fuzzes the HTTP reply reader behind HTTP_GET/SSL_GET and genhash: any bytes, cut into
//! reads at any points, must never panic, and the outcome (digest, status, errors) must not
//! depend on where the reads were cut.
#![no_main]

use checkers::http::ResponseReader;
use libfuzzer_sys::fuzz_target;

fn read_all(data: &[u8], cuts: &[usize]) -> Result<([u8; 16], Result<u16, String>, u64), String> {
    let mut reader = ResponseReader::new(4096);
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&data.len())) {
        let end = cut.clamp(start, data.len());
        let fed = reader.feed(&data[start..end]).map_err(|e| e.to_string())?;
        assert!(fed.body.end <= end - start);
        start = end;
        if fed.complete {
            break;
        }
    }
    let reply = reader.finish().map_err(|e| e.to_string())?;
    Ok((reply.digest, reply.status, reply.body_len))
}

fuzz_target!(|input: &[u8]| {
    let Some((&n, data)) = input.split_first() else {
        return;
    };
    // The first byte seeds the read sizes.
    let step = usize::from(n % 17) + 1;
    let cuts: Vec<usize> = (step..data.len()).step_by(step).collect();
    let whole = read_all(data, &[]);
    let pieces = read_all(data, &cuts);
    assert_eq!(whole, pieces);
});

//! MD5 as SQS uses it: `MD5OfMessageBody` and `MD5OfMessageAttributes`
//! (queues.md §1.6), over a small MD5 of our own (RFC 1321) so the digest
//! needs no dependency.
//!
//! The attribute digest is what the Java SDK v2 checks: names sorted, each
//! as `len(name) name len(type) type` then transport byte 1 (string) or 2
//! (binary) and `len(value) value`, lengths as big-endian u32.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::attributes::MessageAttributeValue;

/// The hex MD5 of `data`.
pub fn md5_hex(data: &[u8]) -> String {
    let digest = md5(data);
    let mut hex = String::with_capacity(32);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// `MD5OfMessageBody`: the hex MD5 of the body's UTF-8 bytes.
pub fn body_md5(body: &str) -> String {
    md5_hex(body.as_bytes())
}

/// `MD5OfMessageAttributes`, or `None` when there are no attributes (SQS
/// then omits the field).
pub fn attributes_md5(attributes: &BTreeMap<String, MessageAttributeValue>) -> Option<String> {
    if attributes.is_empty() {
        return None;
    }
    let mut stream = Vec::new();
    let put = |bytes: &[u8], stream: &mut Vec<u8>| {
        stream.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
        stream.extend_from_slice(bytes);
    };
    // BTreeMap iterates names in ascending byte order, which is SQS's order.
    for (name, value) in attributes {
        put(name.as_bytes(), &mut stream);
        put(value.data_type.as_bytes(), &mut stream);
        if let Some(string) = &value.string_value {
            stream.push(1);
            put(string.as_bytes(), &mut stream);
        } else if let Some(binary) = &value.binary_value {
            stream.push(2);
            put(binary, &mut stream);
        }
    }
    Some(md5_hex(&stream))
}

const S: [u32; 64] = [
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20,
    4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15,
    21,
];

/// MD5 (RFC 1321). The constants are `floor(abs(sin(i + 1)) * 2^32)`.
fn md5(data: &[u8]) -> [u8; 16] {
    let k: [u32; 64] = std::array::from_fn(|i| ((i as f64 + 1.0).sin().abs() * 4_294_967_296.0) as u32);
    let (mut a0, mut b0, mut c0, mut d0) = (0x6745_2301_u32, 0xefcd_ab89_u32, 0x98ba_dcfe_u32, 0x1032_5476_u32);
    let mut message = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&bit_len.to_le_bytes());
    for chunk in message.chunks_exact(64) {
        let m: [u32; 16] = std::array::from_fn(|i| {
            u32::from_le_bytes([chunk[4 * i], chunk[4 * i + 1], chunk[4 * i + 2], chunk[4 * i + 3]])
        });
        let (mut a, mut b, mut c, mut d) = (a0, b0, c0, d0);
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(S[i]));
        }
        a0 = a0.wrapping_add(a);
        b0 = b0.wrapping_add(b);
        c0 = c0.wrapping_add(c);
        d0 = d0.wrapping_add(d);
    }
    let mut out = [0u8; 16];
    for (i, word) in [a0, b0, c0, d0].iter().enumerate() {
        out[4 * i..4 * i + 4].copy_from_slice(&word.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_1321_known_answers() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5_hex(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            md5_hex(b"12345678901234567890123456789012345678901234567890123456789012345678901234567890"),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
    }

    #[test]
    fn body_md5_matches_the_lambda_sqs_event_sample() {
        // queues.md §3: body `{"foo": 2}`... the sample's md5OfBody is for
        // its own body; here the known answer for "test" (hex MD5).
        assert_eq!(body_md5("test"), "098f6bcd4621d373cade4e832627b4f6");
    }

    #[test]
    fn attribute_md5_follows_the_sdk_encoding() {
        let mut attributes = BTreeMap::new();
        attributes.insert("a".to_owned(), MessageAttributeValue::string("String", "b"));
        // name "a", type "String", transport 1, value "b", lengths u32 BE.
        let mut stream = Vec::new();
        stream.extend_from_slice(&[0, 0, 0, 1, b'a', 0, 0, 0, 6]);
        stream.extend_from_slice(b"String");
        stream.extend_from_slice(&[1, 0, 0, 0, 1, b'b']);
        assert_eq!(attributes_md5(&attributes), Some(md5_hex(&stream)));
        assert_eq!(attributes_md5(&BTreeMap::new()), None);
    }
}

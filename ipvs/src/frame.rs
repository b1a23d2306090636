//! Netlink framing of replies: splitting a datagram into messages and
//! classifying each (ack, error, done, IPVS payload). Pure.
#![forbid(unsafe_code)]

use netlink_packet_core::{NetlinkBuffer, NetlinkMessage, NetlinkPayload};

/// `NLM_F_MULTI`: part of a multi-part reply (a dump).
const NLM_F_MULTI: u16 = 0x2;
use netlink_packet_generic::GenlMessage;

use crate::wire::IpvsMessage;

/// One reply message, by sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Ack {
        seq: u32,
    },
    /// NLMSG_ERROR with a negative errno (stored positive).
    Error {
        seq: u32,
        errno: i32,
    },
    /// NLMSG_DONE: the end of a dump.
    Done {
        seq: u32,
    },
    /// An IPVS payload; `multi` when part of a dump.
    Ipvs {
        seq: u32,
        multi: bool,
        msg: IpvsMessage,
    },
    /// A message of another type (e.g. nlctrl), raw.
    Other {
        seq: u32,
        message_type: u16,
        bytes: Vec<u8>,
    },
}

impl Reply {
    pub fn seq(&self) -> u32 {
        match self {
            Reply::Ack { seq }
            | Reply::Error { seq, .. }
            | Reply::Done { seq }
            | Reply::Ipvs { seq, .. }
            | Reply::Other { seq, .. } => *seq,
        }
    }
}

/// Splits a datagram into its messages and classifies each; payloads of
/// `family_id` are parsed as IPVS. Errors name the offset of the bad message.
pub fn parse_datagram(buf: &[u8], family_id: u16) -> Result<Vec<Reply>, String> {
    let mut out = Vec::new();
    let mut off = 0;
    while off < buf.len() {
        let rest = &buf[off..];
        let nl = NetlinkBuffer::new_checked(rest)
            .map_err(|e| format!("netlink message at byte {off}: {e}"))?;
        let len = nl.length() as usize;
        let seq = nl.sequence_number();
        let message_type = nl.message_type();
        let multi = nl.flags() & NLM_F_MULTI != 0;
        let one = &rest[..len];
        if message_type >= 16 && message_type != family_id {
            out.push(Reply::Other {
                seq,
                message_type,
                bytes: one.to_vec(),
            });
        } else {
            let msg = NetlinkMessage::<GenlMessage<IpvsMessage>>::deserialize(one)
                .map_err(|e| format!("netlink message {seq} at byte {off}: {e}"))?;
            out.push(match msg.payload {
                NetlinkPayload::Error(e) => match e.code {
                    None => Reply::Ack { seq },
                    Some(c) => Reply::Error {
                        seq,
                        errno: c.get().saturating_abs(),
                    },
                },
                NetlinkPayload::Done(_) => Reply::Done { seq },
                NetlinkPayload::InnerMessage(g) => Reply::Ipvs {
                    seq,
                    multi,
                    msg: g.payload,
                },
                _ => Reply::Other {
                    seq,
                    message_type,
                    bytes: one.to_vec(),
                },
            });
        }
        // Messages are 4-byte aligned within a datagram.
        off += (len + 3) & !3;
        if len == 0 {
            return Err(format!("netlink message at byte {off} has length 0"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ack_error_and_done_are_classified() {
        // Two messages in one datagram: an ack (error 0) for seq 5 and an
        // ENOENT error for seq 6 (cap_ack: only the request's header).
        let mut buf = Vec::new();
        for (seq, code) in [(5u32, 0i32), (6, -2)] {
            buf.extend_from_slice(&36u32.to_ne_bytes());
            buf.extend_from_slice(&2u16.to_ne_bytes()); // NLMSG_ERROR
            buf.extend_from_slice(&0x100u16.to_ne_bytes()); // NLM_F_CAPPED
            buf.extend_from_slice(&seq.to_ne_bytes());
            buf.extend_from_slice(&0u32.to_ne_bytes());
            buf.extend_from_slice(&code.to_ne_bytes());
            buf.extend_from_slice(&[16, 0, 0, 0, 0x1c, 0, 1, 0]);
            buf.extend_from_slice(&seq.to_ne_bytes());
            buf.extend_from_slice(&0u32.to_ne_bytes());
        }
        assert_eq!(
            parse_datagram(&buf, 0x1c),
            Ok(vec![
                Reply::Ack { seq: 5 },
                Reply::Error { seq: 6, errno: 2 }
            ])
        );
    }

    proptest! {
        /// Whatever a socket returns, framing gives replies or an error.
        #[test]
        fn garbage_datagrams_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_datagram(&bytes, 0x1c);
        }

        /// Valid headers with random lengths and bodies never panic either.
        #[test]
        fn random_lengths_never_panic(len in 0u32..64, ty in 0u16..40, body in prop::collection::vec(any::<u8>(), 0..64)) {
            let mut buf = Vec::new();
            buf.extend_from_slice(&len.to_ne_bytes());
            buf.extend_from_slice(&ty.to_ne_bytes());
            buf.extend_from_slice(&[0; 10]);
            buf.extend_from_slice(&body);
            let _ = parse_datagram(&buf, 0x1c);
        }
    }
}

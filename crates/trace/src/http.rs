//! HTTP/1.x messages found in reassembled byte streams: heads parsed with httparse, bodies
//! delimited as RFC 9112 §6.3 says (Content-Length, chunked, or the end of the stream).

use crate::analyze::stream::Stream;

/// Largest head we try to parse; a longer one is not treated as HTTP.
const MAX_HEAD: usize = 64 * 1024;
const MAX_HEADERS: usize = 128;
/// Longest chunk-size or trailer line we read.
const MAX_LINE: usize = 8 * 1024;
/// First lines longer than this are cut for display.
const MAX_FIRST_LINE: usize = 200;

/// A message's extent in its stream and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Message {
    pub start: u64,
    pub head_end: u64,
    pub end: u64,
    pub first_line: String,
    pub body_len: u64,
    pub chunked: bool,
    pub complete: bool,
    /// For requests: the method, which decides whether the response has a body.
    pub method: Option<String>,
}

/// How a message's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

/// What the bytes at an offset turned out to be.
enum Parse {
    Head(Head),
    /// A head cut short by the capture's end or a hole.
    Partial,
    NotHttp,
}

/// A parsed head, before its body is found.
struct Head {
    len: usize,
    framing: Framing,
    method: Option<String>,
    status: Option<u16>,
}

/// The requests in a client's stream, in order. Parsing stops at the first bytes that are not
/// a request (the stream may not be HTTP at all, or switched protocols).
pub(crate) fn requests(stream: &Stream) -> Vec<Message> {
    let mut out = Vec::new();
    let mut off = skip_blank_lines(stream, 0);
    while off < stream.end() {
        let buf = stream.read(off, MAX_HEAD);
        let head = match parse_request_head(&buf) {
            Parse::Head(head) => head,
            Parse::Partial => {
                let Some(msg) = partial_head(stream, off, &buf) else {
                    break;
                };
                off = msg.end;
                out.push(msg);
                // A head cut by bytes sent but not captured: go on where capture resumes.
                off = skip_blank_lines(stream, off);
                continue;
            }
            Parse::NotHttp => break,
        };
        let connect = head.method.as_deref() == Some("CONNECT");
        let msg = message(stream, off, &buf, head);
        off = msg.end;
        let done = !msg.complete && msg.end >= stream.end();
        out.push(msg);
        // After CONNECT the stream is a tunnel, not HTTP.
        if connect || done {
            break;
        }
        off = skip_blank_lines(stream, off);
    }
    out
}

/// The responses in a server's stream, paired in order with `requests` to know which have no
/// body (HEAD) or turn the connection into a tunnel (CONNECT, 101).
pub(crate) fn responses(stream: &Stream, requests: &[Message]) -> Vec<Message> {
    let mut out = Vec::new();
    let mut answered = 0;
    let mut off = skip_blank_lines(stream, 0);
    while off < stream.end() {
        let buf = stream.read(off, MAX_HEAD);
        let method = requests.get(answered).and_then(|r| r.method.as_deref());
        let head = match parse_response_head(&buf, method) {
            Parse::Head(head) => head,
            Parse::Partial => {
                let Some(msg) = partial_head(stream, off, &buf) else {
                    break;
                };
                off = msg.end;
                out.push(msg);
                // As for requests; taken to answer one (its status is not known).
                answered += 1;
                off = skip_blank_lines(stream, off);
                continue;
            }
            Parse::NotHttp => break,
        };
        let status = head.status.unwrap_or(0);
        let interim = (100..200).contains(&status);
        let tunnel = status == 101 || (method == Some("CONNECT") && (200..300).contains(&status));
        let msg = message(stream, off, &buf, head);
        off = msg.end;
        let done = !msg.complete && msg.end >= stream.end();
        out.push(msg);
        if tunnel || done {
            break;
        }
        // RFC 9110 §15.2: an interim response precedes the final one to the same request.
        if !interim {
            answered += 1;
        }
        off = skip_blank_lines(stream, off);
    }
    out
}

fn parse_request_head(buf: &[u8]) -> Parse {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => return Parse::Partial,
        _ => return Parse::NotHttp,
    };
    let framing = match transfer_framing(req.headers) {
        Some(f) => f,
        None => match content_length(req.headers) {
            Some(cl) => cl.map_or(Framing::Empty, Framing::Length),
            None => return Parse::NotHttp,
        },
    };
    // RFC 9112 §6.3: a request without a length has no body (never "until close").
    let framing = if framing == Framing::UntilClose {
        Framing::Empty
    } else {
        framing
    };
    let method = req.method.map(str::to_owned);
    Parse::Head(Head {
        len,
        framing,
        method,
        status: None,
    })
}

fn parse_response_head(buf: &[u8], method: Option<&str>) -> Parse {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut res = httparse::Response::new(&mut headers);
    let len = match res.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => return Parse::Partial,
        _ => return Parse::NotHttp,
    };
    let status = res.code.unwrap_or(0);
    // RFC 9112 §6.3 rules 1 and 2: these responses never have a body.
    let bodiless = method == Some("HEAD")
        || (100..200).contains(&status)
        || status == 204
        || status == 304
        || (method == Some("CONNECT") && (200..300).contains(&status));
    let framing = if bodiless {
        Framing::Empty
    } else if let Some(f) = transfer_framing(res.headers) {
        f
    } else {
        match content_length(res.headers) {
            Some(cl) => cl.map_or(Framing::UntilClose, Framing::Length),
            None => return Parse::NotHttp,
        }
    };
    Parse::Head(Head {
        len,
        framing,
        method: None,
        status: Some(status),
    })
}

/// Framing from Transfer-Encoding: chunked if it is the final coding, else until close.
fn transfer_framing(headers: &[httparse::Header]) -> Option<Framing> {
    let te = headers
        .iter()
        .rev()
        .find(|h| h.name.eq_ignore_ascii_case("transfer-encoding"))?;
    let value = String::from_utf8_lossy(te.value);
    let last = value.rsplit(',').next().unwrap_or("").trim();
    Some(if last.eq_ignore_ascii_case("chunked") {
        Framing::Chunked
    } else {
        Framing::UntilClose
    })
}

/// `Some(None)` without the header, `None` when it is unreadable (not a message we can
/// delimit).
fn content_length(headers: &[httparse::Header]) -> Option<Option<u64>> {
    let Some(h) = headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
    else {
        return Some(None);
    };
    let value = std::str::from_utf8(h.value).ok()?;
    // RFC 9110 §8.6: a list of identical values is the same as one value.
    let first = value.split(',').next()?.trim();
    first.parse().ok().map(Some)
}

/// A message whose head was parsed at `start`; finds its body.
fn message(stream: &Stream, start: u64, head_bytes: &[u8], head: Head) -> Message {
    let head_end = start + head.len as u64;
    let (end, body_len, body_complete) = match head.framing {
        Framing::Empty => (head_end, 0, true),
        Framing::Length(n) => {
            let end = head_end.saturating_add(n);
            (end, n, stream.contiguous_end(head_end) >= end)
        }
        Framing::UntilClose => {
            let end = stream.end().max(head_end);
            (end, end - head_end, stream.contiguous_end(head_end) >= end)
        }
        Framing::Chunked => chunked_body(stream, head_end),
    };
    Message {
        start,
        head_end,
        end,
        first_line: first_line(head_bytes),
        body_len,
        chunked: head.framing == Framing::Chunked,
        complete: body_complete,
        method: head.method,
    }
}

/// Walks chunk-size lines (RFC 9112 §7.1). Returns (end, decoded body length, complete);
/// when bytes are missing the body is taken to run to the end of the stream.
fn chunked_body(stream: &Stream, head_end: u64) -> (u64, u64, bool) {
    let incomplete = |body: u64| (stream.end().max(head_end), body, false);
    let mut pos = head_end;
    let mut body = 0u64;
    loop {
        let Some((line, next)) = read_line(stream, pos) else {
            return incomplete(body);
        };
        let size_text = String::from_utf8_lossy(&line);
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let Ok(size) = u64::from_str_radix(size_text, 16) else {
            return incomplete(body);
        };
        pos = next;
        if size == 0 {
            break;
        }
        body = body.saturating_add(size);
        // The chunk's data and its CRLF; the data itself need not be read.
        pos = pos.saturating_add(size).saturating_add(2);
    }
    // Trailer fields, then an empty line.
    loop {
        let Some((line, next)) = read_line(stream, pos) else {
            return incomplete(body);
        };
        pos = next;
        if line.is_empty() {
            return (pos, body, stream.contiguous_end(head_end) >= pos);
        }
    }
}

/// The line at `pos` without its CRLF, and the offset after it.
fn read_line<'a>(stream: &Stream<'a>, pos: u64) -> Option<(Vec<u8>, u64)> {
    let buf = stream.read(pos, MAX_LINE);
    let nl = buf.windows(2).position(|w| w == b"\r\n")?;
    Some((buf[..nl].to_vec(), pos + nl as u64 + 2))
}

/// A head that was cut short (by the capture's end or a hole) still names its message when
/// its first line is there. Where it ends is unknown: it is taken to run over the hole, up to
/// where captured bytes resume (a snapped packet's payload tail is most likely its own).
fn partial_head(stream: &Stream, off: u64, buf: &[u8]) -> Option<Message> {
    if !buf.windows(2).any(|w| w == b"\r\n") {
        return None;
    }
    // Past `off`: the buffer holds a CRLF, so at least two bytes were captured there.
    let end = stream.next_kept(stream.contiguous_end(off));
    Some(Message {
        start: off,
        head_end: end,
        end,
        first_line: first_line(buf),
        body_len: 0,
        chunked: false,
        complete: false,
        method: None,
    })
}

/// The request or status line, made safe to print: control characters become U+FFFD so a
/// hostile capture cannot drive the terminal.
fn first_line(head: &[u8]) -> String {
    let line = head.split(|&b| b == b'\n').next().unwrap_or(&[]);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let text = String::from_utf8_lossy(line);
    let mut out: String = text
        .chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .take(MAX_FIRST_LINE)
        .collect();
    if text.chars().count() > MAX_FIRST_LINE {
        out.push('…');
    }
    out
}

/// RFC 9112 §2.2: empty lines before a message are ignored.
fn skip_blank_lines(stream: &Stream, mut off: u64) -> u64 {
    while &*stream.read(off, 2) == b"\r\n" {
        off += 2;
    }
    off
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(bytes: &[u8]) -> Stream<'_> {
        Stream::new(vec![(0, bytes)])
    }

    #[test]
    fn keep_alive_requests_and_responses() {
        let req =
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc";
        let reqs = requests(&stream(req));
        assert_eq!(reqs.len(), 2);
        assert_eq!(reqs[0].first_line, "GET /a HTTP/1.1");
        assert_eq!((reqs[0].start, reqs[0].end), (0, 28));
        assert_eq!(reqs[1].first_line, "POST /b HTTP/1.1");
        assert_eq!(reqs[1].body_len, 3);
        assert_eq!(reqs[1].end, req.len() as u64);
        assert!(reqs.iter().all(|r| r.complete));

        let res = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n";
        let ress = responses(&stream(res), &reqs);
        assert_eq!(ress.len(), 2);
        assert_eq!(ress[0].first_line, "HTTP/1.1 200 OK");
        assert_eq!(ress[0].body_len, 2);
        assert_eq!(ress[1].first_line, "HTTP/1.1 201 Created");
        assert_eq!(ress[1].end, res.len() as u64);
    }

    #[test]
    fn chunked_body_length_excludes_framing() {
        let res = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n";
        let ress = responses(&stream(res), &[]);
        assert_eq!(ress.len(), 1);
        assert!(ress[0].chunked && ress[0].complete);
        assert_eq!(ress[0].body_len, 8);
        assert_eq!(ress[0].end, res.len() as u64);
    }

    #[test]
    fn head_response_has_no_body_and_interim_responses_do_not_pair() {
        let reqs = requests(&stream(b"HEAD / HTTP/1.1\r\n\r\n"));
        let res = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n";
        let ress = responses(&stream(res), &reqs);
        assert_eq!(ress.len(), 2);
        assert_eq!(ress[1].body_len, 0);
        assert_eq!(ress[1].end, res.len() as u64);
    }

    #[test]
    fn body_until_close_and_truncated_capture() {
        let res = b"HTTP/1.0 200 OK\r\n\r\nsome bytes";
        let ress = responses(&stream(res), &[]);
        assert_eq!(ress[0].body_len, 10);

        let res = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort";
        let ress = responses(&stream(res), &[]);
        assert_eq!(ress[0].body_len, 100);
        assert!(!ress[0].complete);
    }

    #[test]
    fn non_http_and_hostile_first_lines() {
        assert!(requests(&stream(b"\x16\x03\x01\x02\x00")).is_empty());
        let reqs = requests(&stream(b"GET /\x1b[2J HTTP/1.1\r\n\r\n"));
        // httparse refuses the escape byte in a path: not a request.
        assert!(reqs.is_empty() || !reqs[0].first_line.contains('\x1b'));
        assert_eq!(
            first_line(b"GET /\x1b HTTP/1.1\r\n"),
            "GET /\u{fffd} HTTP/1.1"
        );
    }

    #[test]
    fn partial_head_keeps_its_first_line() {
        let reqs = requests(&stream(b"GET /big HTTP/1.1\r\nHost: exa"));
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].first_line, "GET /big HTTP/1.1");
        assert!(!reqs[0].complete);
    }

    #[test]
    fn heads_cut_by_snapping_are_named_and_parsing_goes_on() {
        // Two requests, each in a segment of which only the first 20 bytes were kept.
        let (a, b) = (
            b"GET /a HTTP/1.1\r\nHost: example\r\n\r\n",
            b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n",
        );
        let at = a.len() as u64;
        let s = Stream::new(vec![(0, &a[..20]), (at, &b[..20])]).reaching(at + b.len() as u64);
        let reqs = requests(&s);
        let lines: Vec<&str> = reqs.iter().map(|r| r.first_line.as_str()).collect();
        assert_eq!(lines, ["GET /a HTTP/1.1", "GET /b HTTP/1.1"]);
        assert_eq!((reqs[0].start, reqs[0].end), (0, at));
        assert_eq!(reqs[1].end, at + b.len() as u64);
        assert!(reqs.iter().all(|r| !r.complete));
    }

    #[test]
    fn bad_chunk_size_does_not_panic() {
        let res = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n";
        let ress = responses(&stream(res), &[]);
        assert!(!ress[0].complete);
        let res = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffff0\r\n";
        let ress = responses(&stream(res), &[]);
        assert!(!ress[0].complete);
    }
}

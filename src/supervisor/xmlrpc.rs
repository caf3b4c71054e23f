//! A small XML-RPC codec: encodes method calls (as an HTTP/1.0 `POST /RPC2` request) and parses
//! responses, for supervisord's API. Only what XML-RPC defines: `int`/`i4`/`i8`, `boolean`,
//! `string` (and untyped values), `double`, `base64`, `nil`, `dateTime.iso8601` (kept as text),
//! `array`, `struct`; faults. The parser never panics, whatever the bytes (nesting is bounded).

use std::fmt::Write;

/// An XML-RPC value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Bool(bool),
    Str(String),
    Double(f64),
    Base64(Vec<u8>),
    Nil,
    Array(Vec<Value>),
    /// Members in document order.
    Struct(Vec<(String, Value)>),
}

impl Value {
    /// A struct member by name.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Struct(m) => m.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Int(i) => Some(*i != 0),
            _ => None,
        }
    }
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.to_string())
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

/// A response that is not a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RpcError {
    /// The server answered with an XML-RPC fault (supervisor's codes: 10 BAD_NAME,
    /// 60 ALREADY_STARTED, 70 NOT_RUNNING, 90 ALREADY_ADDED, 91 STILL_RUNNING ...).
    #[error("fault {code}: {message}")]
    Fault { code: i64, message: String },
    /// Not HTTP 200 (e.g. 401 when the socket asks for a password).
    #[error("HTTP status {code} {reason}")]
    Http { code: u16, reason: String },
    #[error("malformed response: {0}")]
    Malformed(String),
}

fn malformed(m: impl Into<String>) -> RpcError {
    RpcError::Malformed(m.into())
}

/// Escapes text for XML content.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // XML 1.0 cannot carry most control characters, even escaped: drop them.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            c => out.push(c),
        }
    }
    out
}

fn encode_value(v: &Value, out: &mut String) {
    out.push_str("<value>");
    match v {
        Value::Int(i) => {
            let _ = write!(out, "<int>{i}</int>");
        }
        Value::Bool(b) => {
            let _ = write!(out, "<boolean>{}</boolean>", u8::from(*b));
        }
        Value::Str(s) => {
            let _ = write!(out, "<string>{}</string>", escape(s));
        }
        Value::Double(d) => {
            let _ = write!(out, "<double>{d}</double>");
        }
        Value::Base64(b) => {
            let _ = write!(
                out,
                "<base64>{}</base64>",
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b)
            );
        }
        Value::Nil => out.push_str("<nil/>"),
        Value::Array(items) => {
            out.push_str("<array><data>");
            for i in items {
                encode_value(i, out);
            }
            out.push_str("</data></array>");
        }
        Value::Struct(members) => {
            out.push_str("<struct>");
            for (k, v) in members {
                let _ = write!(out, "<member><name>{}</name>", escape(k));
                encode_value(v, out);
                out.push_str("</member>");
            }
            out.push_str("</struct>");
        }
    }
    out.push_str("</value>");
}

/// The XML body of a method call.
pub fn encode_call(method: &str, params: &[Value]) -> String {
    let mut out = String::from("<?xml version=\"1.0\"?>\n<methodCall><methodName>");
    out.push_str(&escape(method));
    out.push_str("</methodName><params>");
    for p in params {
        out.push_str("<param>");
        encode_value(p, &mut out);
        out.push_str("</param>");
    }
    out.push_str("</params></methodCall>\n");
    out
}

/// The HTTP/1.0 request carrying a call (the server closes the connection after answering).
pub fn http_request(method: &str, params: &[Value]) -> Vec<u8> {
    let body = encode_call(method, params);
    let mut req = format!(
        "POST /RPC2 HTTP/1.0\r\nHost: localhost\r\nUser-Agent: play\r\nContent-Type: text/xml\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body.as_bytes());
    req
}

/// `system.multicall` of several calls: one request, one answer per call (see [`multicall_results`]).
pub fn multicall(calls: &[(&str, Vec<Value>)]) -> Vec<u8> {
    let list = calls
        .iter()
        .map(|(m, p)| {
            Value::Struct(vec![
                ("methodName".into(), Value::Str(m.to_string())),
                ("params".into(), Value::Array(p.clone())),
            ])
        })
        .collect();
    http_request("system.multicall", &[Value::Array(list)])
}

/// Splits a `system.multicall` result: a fault struct (`faultCode`, `faultString`) per
/// failure, the result itself per success. (supervisord does not wrap results in one-element
/// arrays as the multicall convention says: `[true, [{…}], {faultCode…}]`.)
pub fn multicall_results(
    v: Value,
    expected: usize,
) -> Result<Vec<Result<Value, RpcError>>, RpcError> {
    let Value::Array(items) = v else {
        return Err(malformed("multicall result is not an array"));
    };
    if items.len() != expected {
        return Err(malformed(format!(
            "multicall returned {} results for {expected} calls",
            items.len()
        )));
    }
    Ok(items
        .into_iter()
        .map(|item| match item {
            s @ Value::Struct(_) if s.get("faultCode").is_some() => Err(fault_of(&s)),
            other => Ok(other),
        })
        .collect())
}

fn fault_of(v: &Value) -> RpcError {
    RpcError::Fault {
        code: v.get("faultCode").and_then(Value::as_int).unwrap_or(0),
        message: v
            .get("faultString")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    }
}

/// Parses a whole HTTP response: status 200, then the XML-RPC body (cut at Content-Length).
pub fn parse_http_response(bytes: &[u8]) -> Result<Value, RpcError> {
    let split = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, p + 4))
        .or_else(|| {
            bytes
                .windows(2)
                .position(|w| w == b"\n\n")
                .map(|p| (p, p + 2))
        })
        .ok_or_else(|| {
            if bytes.is_empty() {
                malformed("empty response (connection closed)")
            } else {
                malformed("no end of HTTP headers")
            }
        })?;
    let head = String::from_utf8_lossy(&bytes[..split.0]);
    let mut lines = head.lines();
    let status = lines.next().unwrap_or("");
    let mut parts = status.splitn(3, ' ');
    let version = parts.next().unwrap_or("");
    if !version.starts_with("HTTP/") {
        return Err(malformed(format!(
            "not an HTTP response: `{}`",
            status.chars().take(60).collect::<String>()
        )));
    }
    let code: u16 = parts
        .next()
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| malformed("bad HTTP status line"))?;
    let reason = parts.next().unwrap_or("").trim().to_string();
    let mut body = &bytes[split.1..];
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-length") {
                let n: usize = v
                    .trim()
                    .parse()
                    .map_err(|_| malformed("bad Content-Length"))?;
                if body.len() < n {
                    return Err(malformed(format!(
                        "body truncated ({} of {n} bytes)",
                        body.len()
                    )));
                }
                body = &body[..n];
            }
        }
    }
    if code != 200 {
        return Err(RpcError::Http { code, reason });
    }
    parse_response(body)
}

/// Parses an XML-RPC `methodResponse` body: the result, or the fault.
pub fn parse_response(body: &[u8]) -> Result<Value, RpcError> {
    let text = std::str::from_utf8(body).map_err(|_| malformed("body is not UTF-8"))?;
    let mut p = Parser { s: text, pos: 0 };
    p.prolog();
    p.open("methodResponse")?;
    let tag = p
        .peek_open()
        .ok_or_else(|| malformed("empty methodResponse"))?;
    let result = match tag {
        "params" => {
            p.open("params")?;
            p.open("param")?;
            let v = p.value(0)?;
            p.close("param")?;
            p.close("params")?;
            Ok(v)
        }
        "fault" => {
            p.open("fault")?;
            let v = p.value(0)?;
            p.close("fault")?;
            Err(fault_of(&v))
        }
        other => return Err(malformed(format!("unexpected <{other}>"))),
    };
    p.close("methodResponse")?;
    result
}

const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    fn ws(&mut self) {
        let r = self.rest();
        self.pos += r.len() - r.trim_start().len();
    }

    /// Skips `<?xml …?>` and comments.
    fn prolog(&mut self) {
        loop {
            self.ws();
            let r = self.rest();
            let end = if r.starts_with("<?") {
                r.find("?>").map(|i| i + 2)
            } else if r.starts_with("<!--") {
                r.find("-->").map(|i| i + 3)
            } else {
                None
            };
            match end {
                Some(e) => self.pos += e,
                None => return,
            }
        }
    }

    /// The name of the next opening tag, if the next thing is one.
    fn peek_open(&mut self) -> Option<&'a str> {
        self.ws();
        let r = self.rest();
        let inner = r.strip_prefix('<')?;
        if inner.starts_with('/') {
            return None;
        }
        let end = inner.find(['>', '/', ' ', '\t', '\r', '\n'])?;
        Some(&inner[..end])
    }

    /// `<name>` (attributes ignored); true when it was `<name/>`.
    fn open(&mut self, name: &str) -> Result<bool, RpcError> {
        self.ws();
        let r = self.rest();
        let ok = r
            .strip_prefix('<')
            .and_then(|x| x.strip_prefix(name))
            .filter(|x| x.starts_with(['>', '/', ' ', '\t', '\r', '\n']));
        if ok.is_none() {
            return Err(malformed(format!(
                "expected <{name}>, found `{}`",
                r.chars().take(30).collect::<String>()
            )));
        }
        let end = r.find('>').ok_or_else(|| malformed("unterminated tag"))?;
        let empty = r[..end].ends_with('/');
        self.pos += end + 1;
        Ok(empty)
    }

    fn close(&mut self, name: &str) -> Result<(), RpcError> {
        self.ws();
        let r = self.rest();
        let ok = r
            .strip_prefix("</")
            .and_then(|x| x.strip_prefix(name))
            .map(|x| x.trim_start())
            .filter(|x| x.starts_with('>'));
        match ok {
            Some(x) => {
                self.pos += r.len() - x.len() + 1;
                Ok(())
            }
            None => Err(malformed(format!(
                "expected </{name}>, found `{}`",
                r.chars().take(30).collect::<String>()
            ))),
        }
    }

    /// Raw text up to the next `<` (entities decoded).
    fn text(&mut self) -> Result<String, RpcError> {
        let r = self.rest();
        let end = r.find('<').unwrap_or(r.len());
        self.pos += end;
        unescape(&r[..end])
    }

    /// The text of `<tag>TEXT</tag>` after the opening tag was read.
    fn element_text(&mut self, tag: &str, empty: bool) -> Result<String, RpcError> {
        if empty {
            return Ok(String::new());
        }
        let t = self.text()?;
        self.close(tag)?;
        Ok(t)
    }

    /// `<value>…</value>`.
    fn value(&mut self, depth: usize) -> Result<Value, RpcError> {
        if depth > MAX_DEPTH {
            return Err(malformed("values nested too deeply"));
        }
        if self.open("value")? {
            return Ok(Value::Str(String::new()));
        }
        // Untyped text is a string; whitespace before a type tag is not.
        let save = self.pos;
        let text = self.text()?;
        if self.rest().starts_with("</") {
            self.close("value")?;
            return Ok(Value::Str(text));
        }
        if !text.trim().is_empty() {
            return Err(malformed("text mixed with a typed value"));
        }
        self.pos = save;
        let tag = self
            .peek_open()
            .ok_or_else(|| malformed("expected a typed value"))?;
        let empty = self.open(tag)?;
        let v = match tag {
            "int" | "i4" | "i8" => {
                let t = self.element_text(tag, empty)?;
                Value::Int(
                    t.trim()
                        .parse()
                        .map_err(|_| malformed(format!("bad integer `{}`", t.trim())))?,
                )
            }
            "boolean" => match self.element_text(tag, empty)?.trim() {
                "1" => Value::Bool(true),
                "0" => Value::Bool(false),
                other => return Err(malformed(format!("bad boolean `{other}`"))),
            },
            "string" => Value::Str(self.element_text(tag, empty)?),
            "dateTime.iso8601" => Value::Str(self.element_text(tag, empty)?),
            "double" => {
                let t = self.element_text(tag, empty)?;
                Value::Double(
                    t.trim()
                        .parse()
                        .map_err(|_| malformed(format!("bad double `{}`", t.trim())))?,
                )
            }
            "base64" => {
                let t = self.element_text(tag, empty)?;
                Value::Base64(
                    crate::probe::base64_decode(t.as_bytes())
                        .ok_or_else(|| malformed("bad base64"))?,
                )
            }
            "nil" => {
                if !empty {
                    self.close("nil")?;
                }
                Value::Nil
            }
            "array" => {
                let mut items = Vec::new();
                if !empty {
                    if !self.open("data")? {
                        while self.peek_open() == Some("value") {
                            items.push(self.value(depth + 1)?);
                        }
                        self.close("data")?;
                    }
                    self.close("array")?;
                }
                Value::Array(items)
            }
            "struct" => {
                let mut members = Vec::new();
                if !empty {
                    while self.peek_open() == Some("member") {
                        self.open("member")?;
                        let (name, v) = if self.peek_open() == Some("name") {
                            let e = self.open("name")?;
                            let n = self.element_text("name", e)?;
                            (n, self.value(depth + 1)?)
                        } else {
                            let v = self.value(depth + 1)?;
                            let e = self.open("name")?;
                            (self.element_text("name", e)?, v)
                        };
                        self.close("member")?;
                        members.push((name, v));
                    }
                    self.close("struct")?;
                }
                Value::Struct(members)
            }
            other => return Err(malformed(format!("unknown type <{other}>"))),
        };
        self.close("value")?;
        Ok(v)
    }
}

/// Decodes the five XML entities and character references.
fn unescape(s: &str) -> Result<String, RpcError> {
    if !s.contains('&') {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let end = after
            .find(';')
            .filter(|e| *e <= 10)
            .ok_or_else(|| malformed("bad entity"))?;
        let ent = &after[..end];
        let c = match ent {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            _ => {
                let n = if let Some(h) = ent.strip_prefix("#x").or_else(|| ent.strip_prefix("#X")) {
                    u32::from_str_radix(h, 16).ok()
                } else if let Some(d) = ent.strip_prefix('#') {
                    d.parse().ok()
                } else {
                    None
                };
                n.and_then(char::from_u32)
                    .ok_or_else(|| malformed(format!("bad entity `&{ent};`")))?
            }
        };
        out.push(c);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real answer of supervisord 4.2 to `supervisor.getAllProcessInfo` (one process).
    const ALL_PROCESS_INFO_BODY: &str = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><array><data>\n<value><struct>\n<member>\n<name>name</name>\n<value><string>app_web</string></value>\n</member>\n<member>\n<name>group</name>\n<value><string>app_web</string></value>\n</member>\n<member>\n<name>start</name>\n<value><int>1704067200</int></value>\n</member>\n<member>\n<name>stop</name>\n<value><int>0</int></value>\n</member>\n<member>\n<name>now</name>\n<value><int>1704067205</int></value>\n</member>\n<member>\n<name>state</name>\n<value><int>20</int></value>\n</member>\n<member>\n<name>statename</name>\n<value><string>RUNNING</string></value>\n</member>\n<member>\n<name>spawnerr</name>\n<value><string></string></value>\n</member>\n<member>\n<name>exitstatus</name>\n<value><int>0</int></value>\n</member>\n<member>\n<name>logfile</name>\n<value><string>/var/log/app/web.out.log</string></value>\n</member>\n<member>\n<name>stdout_logfile</name>\n<value><string>/var/log/app/web.out.log</string></value>\n</member>\n<member>\n<name>stderr_logfile</name>\n<value><string>/var/log/app/web.err.log</string></value>\n</member>\n<member>\n<name>pid</name>\n<value><int>4242</int></value>\n</member>\n<member>\n<name>description</name>\n<value><string>pid 4242, uptime 0:00:05</string></value>\n</member>\n</struct></value>\n</data></array></value>\n</param>\n</params>\n</methodResponse>\n";

    /// The body as supervisord's HTTP server (medusa) sends it.
    fn http_ok(body: &str) -> Vec<u8> {
        format!(
            "HTTP/1.0 200 OK\r\nContent-Length: {}\r\nContent-Type: text/xml\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nServer: Medusa/1.12\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    #[test]
    fn encodes_calls_with_escaping() {
        let body = encode_call(
            "supervisor.startProcess",
            &[Value::from("a<b>&\"c\u{1}"), Value::from(false)],
        );
        assert_eq!(
            body,
            "<?xml version=\"1.0\"?>\n<methodCall><methodName>supervisor.startProcess</methodName><params><param><value><string>a&lt;b&gt;&amp;&quot;c</string></value></param><param><value><boolean>0</boolean></value></param></params></methodCall>\n"
        );
        let req = http_request("supervisor.getAllProcessInfo", &[]);
        let text = String::from_utf8(req).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("POST /RPC2 HTTP/1.0\r\n"), "{head}");
        assert!(
            head.contains(&format!("Content-Length: {}", body.len())),
            "{head}"
        );
        assert!(body.contains("<params></params>"));
    }

    #[test]
    fn encodes_multicall_and_nested_values() {
        let req = multicall(&[
            (
                "supervisor.stopProcess",
                vec![Value::from("web:*"), Value::from(false)],
            ),
            ("supervisor.getState", vec![]),
        ]);
        let text = String::from_utf8(req).unwrap();
        assert!(text.contains("<methodName>system.multicall</methodName>"));
        assert!(text.contains("<member><name>methodName</name><value><string>supervisor.stopProcess</string></value></member>"), "{text}");
        assert!(text.contains("<member><name>params</name><value><array><data><value><string>web:*</string></value><value><boolean>0</boolean></value></data></array></value></member>"), "{text}");
        assert!(text.contains(
            "<member><name>params</name><value><array><data></data></array></value></member>"
        ));
        // Round trip of every type through our own parser.
        let v = Value::Array(vec![
            Value::Int(-3),
            Value::Bool(true),
            Value::Str("x & <y>".into()),
            Value::Double(1.5),
            Value::Base64(b"\0\x01hello".to_vec()),
            Value::Nil,
            Value::Struct(vec![("k".into(), Value::Array(vec![]))]),
        ]);
        let mut xml = String::from("<methodResponse><params><param>");
        encode_value(&v, &mut xml);
        xml.push_str("</param></params></methodResponse>");
        assert_eq!(parse_response(xml.as_bytes()).unwrap(), v);
    }

    #[test]
    fn parses_get_all_process_info() {
        let v = parse_http_response(&http_ok(ALL_PROCESS_INFO_BODY)).unwrap();
        let list = v.as_array().unwrap();
        assert_eq!(list.len(), 1);
        let p = &list[0];
        assert_eq!(p.get("name").and_then(Value::as_str), Some("app_web"));
        assert_eq!(p.get("statename").and_then(Value::as_str), Some("RUNNING"));
        assert_eq!(p.get("pid").and_then(Value::as_int), Some(4242));
        assert_eq!(p.get("spawnerr").and_then(Value::as_str), Some(""));
        assert_eq!(
            p.get("description").and_then(Value::as_str),
            Some("pid 4242, uptime 0:00:05")
        );
    }

    #[test]
    fn parses_faults_and_http_errors() {
        let fault = "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n<member>\n<name>faultCode</name>\n<value><int>60</int></value>\n</member>\n<member>\n<name>faultString</name>\n<value><string>ALREADY_STARTED: app_web</string></value>\n</member>\n</struct></value>\n</fault>\n</methodResponse>\n";
        assert_eq!(
            parse_response(fault.as_bytes()),
            Err(RpcError::Fault {
                code: 60,
                message: "ALREADY_STARTED: app_web".into()
            })
        );
        assert_eq!(
            parse_http_response(b"HTTP/1.0 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"),
            Err(RpcError::Http {
                code: 401,
                reason: "Unauthorized".into()
            })
        );
        assert!(matches!(
            parse_http_response(b"HTTP/1.0 200 OK\r\nContent-Length: 500\r\n\r\n<methodResponse>"),
            Err(RpcError::Malformed(m)) if m.contains("truncated")
        ));
        assert!(matches!(
            parse_http_response(b""),
            Err(RpcError::Malformed(_))
        ));
        assert!(matches!(
            parse_http_response(b"SSH-2.0-OpenSSH\r\n\r\n"),
            Err(RpcError::Malformed(_))
        ));
    }

    #[test]
    fn parses_untyped_and_odd_but_valid_values() {
        let body = "<methodResponse><params><param><value><array><data>\
            <value>plain &amp; simple</value><value/><value><string/></value>\
            <value><i4> 7 </i4></value><value><boolean>1</boolean></value>\
            <value><struct><member><value><int>1</int></value><name>late name</name></member></struct></value>\
            <value><string>&#233;&#x4E2D;&apos;</string></value>\
            </data></array></value></param></params></methodResponse>";
        let v = parse_response(body.as_bytes()).unwrap();
        assert_eq!(
            v,
            Value::Array(vec![
                Value::Str("plain & simple".into()),
                Value::Str(String::new()),
                Value::Str(String::new()),
                Value::Int(7),
                Value::Bool(true),
                Value::Struct(vec![("late name".into(), Value::Int(1))]),
                Value::Str("é中'".into()),
            ])
        );
    }

    #[test]
    fn multicall_results_split_successes_and_faults() {
        // What supervisord 4.2 answers to addProcessGroup, startProcess("b:*"), stopProcess("zz:*").
        let body = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><array><data>\n<value><boolean>1</boolean></value>\n<value><array><data>\n<value><struct>\n<member>\n<name>name</name>\n<value><string>b</string></value>\n</member>\n<member>\n<name>group</name>\n<value><string>b</string></value>\n</member>\n<member>\n<name>status</name>\n<value><int>80</int></value>\n</member>\n<member>\n<name>description</name>\n<value><string>OK</string></value>\n</member>\n</struct></value>\n</data></array></value>\n<value><struct>\n<member>\n<name>faultCode</name>\n<value><int>10</int></value>\n</member>\n<member>\n<name>faultString</name>\n<value><string>BAD_NAME: zz:*</string></value>\n</member>\n</struct></value>\n</data></array></value>\n</param>\n</params>\n</methodResponse>\n";
        let v = parse_response(body.as_bytes()).unwrap();
        let r = multicall_results(v.clone(), 3).unwrap();
        assert_eq!(r[0], Ok(Value::Bool(true)));
        let started = r[1].as_ref().unwrap().as_array().unwrap();
        assert_eq!(started[0].get("status").and_then(Value::as_int), Some(80));
        assert_eq!(
            r[2],
            Err(RpcError::Fault {
                code: 10,
                message: "BAD_NAME: zz:*".into()
            })
        );
        assert!(multicall_results(v, 2).is_err());
        assert!(multicall_results(Value::Int(1), 1).is_err());
    }

    #[test]
    fn garbage_never_panics() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let base = http_ok(ALL_PROCESS_INFO_BODY);
        let pieces: &[&[u8]] = &[
            b"<value>",
            b"</value>",
            b"<array>",
            b"<data>",
            b"<struct>",
            b"<member>",
            b"<name>",
            b"&#x",
            b"&",
            b";",
            b"<",
            b">",
            b"/",
            b"<int>",
            b"\r\n\r\n",
            b"\xff",
        ];
        for round in 0..3000 {
            let mut buf = base.clone();
            for _ in 0..(next() % 6) {
                let r = next();
                let i = (next() as usize) % buf.len().max(1);
                match r % 3 {
                    0 if !buf.is_empty() => {
                        let last = buf.len() - 1;
                        buf[i.min(last)] = next() as u8;
                    }
                    1 => buf.truncate(i),
                    _ => {
                        let p = pieces[(next() as usize) % pieces.len()];
                        let i = i.min(buf.len());
                        buf.splice(i..i, p.iter().copied());
                    }
                }
            }
            let _ = parse_http_response(&buf);
            if round % 10 == 0 {
                // Deep nesting is refused, not a stack overflow.
                let deep = "<value><array><data>".repeat(5000);
                let body = format!("<methodResponse><params><param>{deep}");
                assert!(parse_response(body.as_bytes()).is_err());
            }
        }
    }
}

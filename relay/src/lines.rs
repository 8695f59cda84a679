//! Reads one line at a time off the connection with a hard length limit, so
//! a client that never sends a line end cannot make the relay buffer
//! without bound.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// How reading a line ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// `buf` holds the line with its line end.
    Complete,
    /// The line was longer than the limit; the rest of it was read and
    /// dropped, and `buf` holds only its line end (`\r\n` or `\n`).
    TooLong,
    /// The client closed the connection.
    Closed,
}

/// Appends one line (up to and with its `\n`) to `buf`, cleared first.
pub async fn read_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<Line> {
    buf.clear();
    let mut too_long = false;
    // The end of DATA depends on how the line before it ended, overlong
    // or not, so a dropped line still tells CRLF from a bare LF.
    let mut last_two = [0u8; 2];
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(Line::Closed);
        }
        let (take, done) = match memchr(available) {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        last_two = match &available[..take] {
            [b] => [last_two[1], *b],
            [.., a, b] => [*a, *b],
            [] => last_two,
        };
        if !too_long {
            if buf.len() + take > max {
                too_long = true;
                buf.clear();
            } else {
                buf.extend_from_slice(&available[..take]);
            }
        }
        reader.consume(take);
        if done {
            if !too_long {
                return Ok(Line::Complete);
            }
            let end: &[u8] = if last_two == *b"\r\n" { b"\r\n" } else { b"\n" };
            buf.extend_from_slice(end);
            return Ok(Line::TooLong);
        }
    }
}

fn memchr(bytes: &[u8]) -> Option<usize> {
    bytes.iter().position(|&b| b == b'\n')
}

/// True when the line ends in `\n` without the `\r` before it.
pub fn has_bare_lf(line: &[u8]) -> bool {
    line.ends_with(b"\n") && !line.ends_with(b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_lines_and_drops_overlong_ones_whole() {
        let input: &[u8] = b"EHLO a\r\nXXXXXXXXXXXXXXXXXXXX\r\nYYYYYYYYYYYYYYYYYYY\nQUIT\r\n";
        let mut reader = tokio::io::BufReader::with_capacity(4, input);
        let mut buf = Vec::new();
        assert_eq!(
            read_line(&mut reader, &mut buf, 10).await.unwrap(),
            Line::Complete
        );
        assert_eq!(buf, b"EHLO a\r\n");
        assert_eq!(
            read_line(&mut reader, &mut buf, 10).await.unwrap(),
            Line::TooLong
        );
        assert_eq!(buf, b"\r\n");
        assert_eq!(
            read_line(&mut reader, &mut buf, 10).await.unwrap(),
            Line::TooLong
        );
        assert_eq!(buf, b"\n", "a bare LF is told from CRLF");
        assert_eq!(
            read_line(&mut reader, &mut buf, 10).await.unwrap(),
            Line::Complete
        );
        assert_eq!(buf, b"QUIT\r\n");
        assert_eq!(
            read_line(&mut reader, &mut buf, 10).await.unwrap(),
            Line::Closed
        );
    }

    #[test]
    fn bare_lf_is_told_from_crlf() {
        assert!(has_bare_lf(b"a\n"));
        assert!(!has_bare_lf(b"a\r\n"));
        assert!(!has_bare_lf(b"a"));
    }
}

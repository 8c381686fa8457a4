//! `--root DIR`: files served as they are, streamed, with no way out of the directory; and a
//! file body that `get` uploads with too.

use std::io;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use hyper::body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, ReadBuf};

/// Largest frame a file body yields.
const CHUNK: usize = 64 * 1024;

/// Where a request path leads under `root`: `None` for anything that would leave it
/// (`..`, an absolute or drive path, NUL, a symlink pointing outside) or that is not there.
/// `root` must be canonical.
pub fn resolve(root: &Path, request_path: &str) -> Option<PathBuf> {
    let decoded = percent_decode(request_path)?;
    let mut path = root.to_path_buf();
    for part in decoded.split('/') {
        if part.is_empty() || part == "." {
            continue;
        }
        // One plain name per segment: no "..", no separators or prefixes smuggled in.
        let mut components = Path::new(part).components();
        match (components.next(), components.next()) {
            (Some(Component::Normal(name)), None) if !part.contains('\\') => path.push(name),
            _ => return None,
        }
    }
    // Symlinks may point anywhere: the real path must still be under the root.
    let real = path.canonicalize().ok()?;
    real.starts_with(root).then_some(real)
}

/// `%41` → `A`; `None` for a bad escape, NUL, or bytes that are not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    if out.contains(&0) {
        return None;
    }
    String::from_utf8(out).ok()
}

/// A file streamed as a body of known length.
pub struct FileBody {
    file: tokio::fs::File,
    left: u64,
    buf: BytesMut,
}

impl FileBody {
    /// Opens `path` for streaming.
    pub async fn open(path: &Path) -> io::Result<FileBody> {
        let file = tokio::fs::File::open(path).await?;
        let len = file.metadata().await?.len();
        Ok(FileBody {
            file,
            left: len,
            buf: BytesMut::new(),
        })
    }
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        if this.left == 0 {
            return Poll::Ready(None);
        }
        let want = this.left.min(CHUNK as u64) as usize;
        this.buf.resize(want, 0);
        let mut read = ReadBuf::new(&mut this.buf[..want]);
        match Pin::new(&mut this.file).poll_read(cx, &mut read) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) => {
                let n = read.filled().len();
                if n == 0 {
                    // The file shrank under us: the promised length cannot be kept.
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the file got shorter while being sent",
                    ))));
                }
                this.left -= n as u64;
                let chunk = this.buf.split_to(n).freeze();
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.left == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_under_the_root() {
        let dir = std::env::temp_dir().join(format!("synack-files-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/a.txt"), b"a").unwrap();
        let root = dir.join("sub").canonicalize().unwrap();
        assert_eq!(resolve(&root, "/a.txt"), Some(root.join("a.txt")));
        assert_eq!(resolve(&root, "/./%61.txt"), Some(root.join("a.txt")));
        assert_eq!(resolve(&root, "/"), Some(root.clone()));
        for bad in [
            "/../sub/a.txt",
            "/%2e%2e/sub/a.txt",
            "/..%2fsub/a.txt",
            "/a.txt%00",
            "/%zz",
            "/missing",
            "/..\\sub\\a.txt",
        ] {
            assert_eq!(resolve(&root, bad), None, "{bad}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

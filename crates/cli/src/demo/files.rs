//! The files a run can leave: the NSS key log (`--keylog`, and SSLKEYLOGFILE as NSS
//! appends to it), a pcapng capture (`--pcap`) and an HTML page (`--html`).

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use synack_trace::capture::{self, WriteOptions};
use synack_trace::html::{self, HtmlOptions};

use super::{DemoError, Outcome, Setup, render};

/// The comment in the capture's section header.
const PCAP_COMMENT: &str = "synack demo";

/// Writes every file the options ask for; the first that fails stops the rest.
pub fn write(setup: &Setup, outcome: &Outcome) -> Result<(), DemoError> {
    if setup.tls.is_some() {
        if let Some(path) = &setup.keylog {
            let file = File::create(path);
            let file = file.map_err(|e| DemoError::File("key log", path.clone(), e))?;
            write_to(file, "key log", path, |out| {
                out.write_all(outcome.key_log.as_bytes())
            })?;
        }
        // As NSS does: secrets go to the end of the file the environment names.
        if let Some(path) = std::env::var_os("SSLKEYLOGFILE").filter(|p| !p.is_empty()) {
            let path = PathBuf::from(path);
            let file = OpenOptions::new().create(true).append(true).open(&path);
            let file = file.map_err(|e| DemoError::File("key log", path.clone(), e))?;
            write_to(file, "key log", &path, |out| {
                out.write_all(outcome.key_log.as_bytes())
            })?;
        }
    }
    if let Some(path) = &setup.pcap {
        let file = File::create(path);
        let file = file.map_err(|e| DemoError::File("capture", path.clone(), e))?;
        let options = WriteOptions {
            epoch_unix_ns: outcome.epoch_unix_ns,
            comment: Some(PCAP_COMMENT.to_owned()),
        };
        write_to(file, "capture", path, |out| {
            outcome
                .recording
                .with(|r| capture::write_pcapng(&mut *out, r, &options))
        })?;
    }
    if let Some(path) = &setup.html {
        let options = HtmlOptions {
            title: render::title(setup),
            ..HtmlOptions::default()
        };
        let page = html::render(&outcome.trace, Some(&outcome.summary), &options);
        let file = File::create(path);
        let file = file.map_err(|e| DemoError::File("HTML page", path.clone(), e))?;
        write_to(file, "HTML page", path, |out| {
            out.write_all(page.as_bytes())
        })?;
    }
    Ok(())
}

/// Writes through a buffer and flushes, naming the file in any error.
fn write_to(
    file: File,
    what: &'static str,
    path: &Path,
    body: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>,
) -> Result<(), DemoError> {
    let mut out = BufWriter::new(file);
    body(&mut out)
        .and_then(|()| out.flush())
        .map_err(|e| DemoError::File(what, path.to_owned(), e))
}

//! `synack`: watch HTTP(S) run over a TCP/IP stack of our own, or explain a capture.

mod bench;
mod cli;
mod demo;
mod get;
mod link;
mod output;
mod serve;
mod trace;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return cli::exit_on_parse_error(e),
    };
    match cli.command {
        Command::Demo(args) => demo::main(*args),
        Command::Trace(args) => trace::main(args),
        Command::Serve(args) => serve::main(*args),
        Command::Get(args) => get::main(*args),
        Command::Bench(args) => bench::main(args),
    }
}

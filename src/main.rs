//! The `play` binary: parses the command line and calls one library function per subcommand.
fn main() {
    let code = match play::cli::main() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            play::exit::FAILURE
        }
    };
    std::process::exit(code);
}

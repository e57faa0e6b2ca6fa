use std::process::ExitCode;

fn main() -> ExitCode {
    xf_app::cli::run(xf_reporting::binary(), xf_reporting::build)
}

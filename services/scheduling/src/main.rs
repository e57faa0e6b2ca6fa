use std::process::ExitCode;

fn main() -> ExitCode {
    xf_app::cli::run(xf_scheduling::binary(), xf_scheduling::build)
}

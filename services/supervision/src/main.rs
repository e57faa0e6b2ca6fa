use std::process::ExitCode;

fn main() -> ExitCode {
    xf_app::cli::run(xf_supervision::binary(), xf_supervision::build)
}

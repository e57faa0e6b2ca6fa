use std::process::ExitCode;

fn main() -> ExitCode {
    xf_app::cli::run(xf_intake::binary(), xf_intake::build)
}

use std::process::ExitCode;

fn main() -> ExitCode {
    xf_app::cli::run(xf_routing::binary(), xf_routing::build)
}

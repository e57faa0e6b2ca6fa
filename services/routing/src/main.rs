use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("import-divisions") {
        return xf_routing::import::run(&args[2..]);
    }
    xf_app::cli::run(xf_routing::binary(), xf_routing::build)
}

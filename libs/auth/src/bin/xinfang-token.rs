//! Mints a development token signed with a private key (default: the shipped
//! development key). Example:
//!   xinfang-token --sub clerk-1 --roles registrar --unit 330122-xfb --jurisdiction 330122

use clap::Parser;
use xf_auth::{KeyAlgorithm, Signer, claims};

#[derive(Parser)]
#[command(name = "xinfang-token", about = "Mint a development JWT for Xinfang")]
struct Args {
    /// Subject (user id).
    #[arg(long, default_value = "dev-user")]
    sub: String,
    /// Comma-separated roles: registrar, handler, supervisor, leader, scheduler, analyst, vault_reader, admin.
    #[arg(long, value_delimiter = ',', default_value = "registrar")]
    roles: Vec<String>,
    /// Unit id of the user.
    #[arg(long)]
    unit: Option<String>,
    /// Jurisdiction code (6, 9 or 12 digits) the user may see.
    #[arg(long)]
    jurisdiction: String,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 8 * 3600)]
    ttl: i64,
    /// PEM private key file (default: the development key, run from the repository root).
    #[arg(long, default_value = "dev/keys/dev-ed25519-private.pem")]
    key: String,
    /// Key algorithm of --key.
    #[arg(long, default_value = "eddsa", value_parser = ["eddsa", "rs256"])]
    alg: String,
}

fn main() {
    let args = Args::parse();
    if let Err(e) = xf_jurisdiction::Code::parse(&args.jurisdiction) {
        eprintln!("--jurisdiction: {e}");
        std::process::exit(2);
    }
    let alg = if args.alg == "rs256" {
        KeyAlgorithm::RS256
    } else {
        KeyAlgorithm::EdDSA
    };
    let pem = match std::fs::read(&args.key) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("--key {}: {e}", args.key);
            std::process::exit(2);
        }
    };
    let signer = match Signer::from_pem(&pem, alg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let roles: Vec<&str> = args.roles.iter().map(String::as_str).collect();
    let c = claims(
        &args.sub,
        &roles,
        args.unit.as_deref(),
        &args.jurisdiction,
        args.ttl,
    );
    match signer.sign(&c) {
        Ok(t) => println!("{t}"),
        Err(e) => {
            eprintln!("cannot sign: {e}");
            std::process::exit(1);
        }
    }
}

//! `driftlog serve` and `driftlog token new`: the configuration read and checked, the service
//! built from it, and the server run on a Tokio runtime until SIGTERM.

use crate::cli::{ServeArgs, TokenArgs, TokenCommand};
use crate::exit;
use anyhow::{anyhow, Context, Result};
use std::time::Duration;

pub fn run(args: &ServeArgs, aws: &driftlog_aws::AwsOptions) -> Result<u8> {
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("{}: cannot read the configuration", args.config.display()))?;
    let config = match driftlog_app::config::parse(&args.config.display().to_string(), &text) {
        Ok(c) => c,
        Err(e) => {
            for line in e.to_string().lines() {
                eprintln!("error: {line}");
            }
            return Ok(exit::ERROR);
        }
    };
    let listen = match args.listen {
        Some(l) => l,
        None => config
            .server
            .listen
            .as_ref()
            .map_or(driftlog_app::config::DEFAULT_LISTEN, |l| {
                l.get_ref().as_str()
            })
            .parse()
            .map_err(|e| anyhow!("[server] listen: {e}"))?,
    };
    let base = match args.config.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => std::path::PathBuf::from("."),
    };
    let service =
        driftlog_app::service::Service::new(config, &base, aws.clone(), args.public_url.clone())?;
    let mut options = driftlog_server::ServeOptions::new(listen);
    options.concurrency = args.jobs.max(1);
    options.lease = Duration::from_secs(args.lease);
    options.grace = Duration::from_secs(args.grace);
    options.poll = Duration::from_millis(args.poll_ms);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let served = runtime.block_on(driftlog_server::serve(service, options));
    // A job released after the grace period may still block a thread (a read that never
    // ends): do not wait for it, its lease is free and another worker will run it.
    runtime.shutdown_timeout(Duration::from_secs(1));
    served?;
    Ok(exit::CLEAN)
}

pub fn token(args: &TokenArgs) -> Result<u8> {
    match &args.command {
        TokenCommand::New { name, role } => {
            let (token, hash) = driftlog_server::auth::new_token().map_err(|e| anyhow!(e))?;
            println!("{token}");
            eprintln!(
                "Keep the token above secret; add this to driftlog.toml:\n\n[[token]]\nname = {name:?}\nrole = \"{role}\"\nsha256 = \"{hash}\""
            );
            Ok(exit::CLEAN)
        }
    }
}

//! Print what driftlog-audit reads from files: `cargo run -p driftlog-audit --example dump -- FILE...`
fn main() {
    for path in std::env::args().skip(1) {
        let mut out = driftlog_audit::Collect::default();
        match driftlog_audit::read_path(path.as_ref(), &mut out) {
            Err(e) => println!("{path}: FILE ERROR {e}"),
            Ok(()) => {
                println!(
                    "{path}: {} events, {} rejected, {} ignored",
                    out.events.len(),
                    out.rejections.len(),
                    out.ignored.len()
                );
                for e in &out.events {
                    let ev = &e.event;
                    println!("  {} {} {} {:?} ro={:?} {} principal={:?}/{:?} on_behalf={:?} issuer={:?} actor={}({}) ip={:?} res={:?}",
                        ev.event_id, driftlog_core::time::format_time_us(ev.time_us), ev.action, ev.service, ev.read_only, ev.outcome.label(),
                        ev.principal.id, ev.principal.kind, ev.principal.on_behalf_of, ev.principal.issuer, ev.actor.kind, ev.actor.rule, ev.source_ip, ev.resources);
                }
                for r in &out.rejections {
                    println!("  REJECT {}: {}", r.location, r.reason);
                }
                for i in &out.ignored {
                    println!("  IGNORED {i}");
                }
            }
        }
    }
}

//! Staff keeping hand-overs tidy (SPEC §12): the requests they made (listed, cancelled) and
//! claims that went nowhere (released back to the inbox).

use secrecy::ExposeSecret;

use super::args::StaffArgs;
use super::block_on;
use sealpass_client::exit::{Exit, Failure};
use sealpass_core::api::{RequestState, RequestSummary};
use sealpass_core::text::shown;

#[derive(Debug, clap::Args)]
#[command(after_help = "A requester sees the requests they made; auditors and admins see everyone's. Cancelling \
    a request makes its link stop working at once (the customer's page and CLI say it was cancelled); a request \
    already answered is not cancelled: revoke its drop instead.\n\nExamples:\n  sealpass requests --state open\n  \
    sealpass requests --cancel ID")]
pub(crate) struct RequestsArgs {
    /// Only requests in this state: open, fulfilled, expired or cancelled
    #[arg(long, value_name = "STATE", value_parser = parse_state)]
    state: Option<RequestState>,
    /// Cancel the request with this id instead of listing (the id, not the link: a link holds
    /// the customer's upload token, which does not belong on a command line)
    #[arg(long, value_name = "ID", conflicts_with = "state")]
    cancel: Option<String>,
    /// {"requests":[{"id","label","kind","state","created_by","created_at","expires_at","drop_id","drop_state"}]}
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    staff: StaffArgs,
}

fn parse_state(name: &str) -> Result<RequestState, String> {
    RequestState::from_name(name).ok_or_else(|| "states are open, fulfilled, expired and cancelled".to_owned())
}

/// Most pages `sealpass requests` follows.
const MAX_PAGES: usize = 100;

pub(crate) fn requests(args: RequestsArgs, ctx: &super::Context) -> Result<Exit, Failure> {
    let printer = &ctx.printer;
    let (client, token) = args.staff.resolve(None, ctx.settings()?)?;
    if let Some(target) = &args.cancel {
        let id = request_id(target)?;
        let status = block_on(async { client.cancel_request(&id, token.expose_secret()).await.map_err(Failure::of) })?;
        if printer.json() {
            printer.json_line(&status)?;
        } else {
            printer.note(&format!(
                "cancelled request {} ({}): its link no longer works",
                shown(&status.id),
                shown(&status.label)
            ));
        }
        return Ok(Exit::Ok);
    }
    let (client, token, state) = (&client, &token, args.state);
    let (requests, complete): (Vec<RequestSummary>, bool) =
        block_on(super::common::all_pages(MAX_PAGES, |cursor| async move {
            let page = client.requests(token.expose_secret(), state, cursor.as_deref()).await.map_err(Failure::of)?;
            Ok((page.requests, page.next_cursor))
        }))?;
    if printer.json() {
        printer.json_line(&sealpass_core::api::RequestList { requests, next_cursor: None })?;
        return Ok(Exit::Ok);
    }
    if requests.is_empty() {
        printer.note(&match args.state {
            Some(state) => format!("no {} requests", state.as_str()),
            None => "no requests".to_owned(),
        });
    }
    for r in &requests {
        let answer = match (&r.drop_id, r.drop_state) {
            (Some(_), Some(state)) => format!(", its drop {}", state.as_str()),
            (Some(_), None) => ", its drop purged".to_owned(),
            _ => String::new(),
        };
        printer.lines(&format!(
            "{}  {}  {}  {}{answer}  by {}, made {}, expires {}",
            shown(&r.id),
            r.state.as_str(),
            shown(&r.label),
            shown(&r.kind),
            r.created_by.as_deref().map_or_else(|| "-".into(), shown),
            shown(&r.created_at),
            shown(&r.expires_at)
        ))?;
    }
    if !complete {
        printer.warn(&format!("stopped after {MAX_PAGES} pages ({} requests), newest first", requests.len()));
    }
    Ok(Exit::Ok)
}

/// A request's id. A link is refused: its fragment holds the upload token, which a command line
/// leaves in the shell's history and the process list.
fn request_id(target: &str) -> Result<String, Failure> {
    if target.contains("/r/") || target.contains('#') {
        return Err(Failure::usage(
            "--cancel takes the request's id (`sealpass requests` lists them), not its link: the link holds the \
             customer's upload token, which does not belong on a command line (clear it from your shell history)",
        ));
    }
    if sealpass_core::link::is_id(target) {
        Ok(target.to_owned())
    } else {
        Err(Failure::usage(
            "--cancel takes a request id: 26 characters of a–z and 2–7 (`sealpass requests` lists them)",
        ))
    }
}

#[derive(Debug, clap::Args)]
#[command(after_help = "For a claim whose hand-on failed: the drop waits in the inbox again, for anyone with the \
    receiver role. The claimer releases their own claim; an admin releases anyone's. Nothing is decrypted.\n\n\
    Example:\n  sealpass release https://drop.example.com/d/ID")]
pub(crate) struct ReleaseArgs {
    /// The pickup link, or a bare id with --server
    #[arg(value_name = "ID|PICKUP")]
    pickup: String,
    /// {"id","state","released_by","released_at",…}
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    staff: StaffArgs,
}

pub(crate) fn release(args: ReleaseArgs, ctx: &super::Context) -> Result<Exit, Failure> {
    let printer = &ctx.printer;
    let config = ctx.settings()?;
    let (own, pickup) = args.staff.own_pickup(&args.pickup, config)?;
    let (client, token) = args.staff.resolve(Some(&own), config)?;
    let status = block_on(async { client.release(&pickup.id, token.expose_secret()).await.map_err(Failure::of) })?;
    if printer.json() {
        printer.json_line(&status)?;
    } else {
        printer.note(&format!("released {pickup}: it waits in the inbox again"));
    }
    Ok(Exit::Ok)
}

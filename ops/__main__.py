"""python -m ops [--local | --stage NAME] COMMAND ...: reconcile, failed-payouts, redrive, index-unpaid,
file-unfunded-expiry, note-submissions, copy-work, end-cancelled-claims,
cancel-unpaid-intents, index-reviews, time-bounties, index-search, reshard-open,
reshard-timers.

See docs/OPERATIONS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _environment(args) -> None:
    """Points the app's settings at the local stack (from the file `make run` writes) or at a deployed stage."""
    if args.local:
        env_file = Path(args.state_dir) / "env.json"
        if not env_file.exists():
            sys.exit(f"{env_file} not found: is `make run` running?")
        os.environ.update(json.loads(env_file.read_text()))
    else:
        from infra import honour_aws_region
        from infra.build_template import check_stage, shard_settings

        honour_aws_region(os.environ)
        stage = check_stage(args.stage)
        os.environ["STAGE"] = stage

        for name, value in shard_settings(stage).items():  # where the stage's functions store items
            os.environ.setdefault(name, value)
        # From an operator's machine, far from the region and reading whole tables: not the functions' call limits.
        os.environ.setdefault("AWS_CONNECT_TIMEOUT_SECONDS", "10")
        os.environ.setdefault("AWS_READ_TIMEOUT_SECONDS", "60")
        for name in ("stripe-secret-key", "stripe-webhook-secret", "api-key-pepper"):
            variable = name.upper().replace("-", "_")
            if variable not in os.environ:
                os.environ.setdefault(f"{variable}_PARAM", f"/bounty-board/{stage}/{name}")


def reconcile(args, deps) -> int:
    from chalicelib.services.reconcile import reconcile_bounty

    if not (args.bounty or args.client or args.all):
        sys.exit("reconcile: name what to check: --bounty ID, --client ACCOUNT or --all (see --help)")
    bounty_ids = list(args.bounty)
    if args.client:
        client = deps.repo.get_account(args.client)
        if client is None or client.role != "client":
            sys.exit(f"reconcile: {args.client}: no such client account")
        bounty_ids += _client_bounties(deps, args.client)
    if args.all:
        bounty_ids += _every_bounty()
    bounty_ids = list(dict.fromkeys(bounty_ids))  # each once, however it was named
    problems = []
    for bounty_id in bounty_ids:
        problems += reconcile_bounty(deps, bounty_id)
    for line in problems:
        print(line)
    print(f"{len(bounty_ids)} bounties checked, {len(problems)} differences between the ledger and Stripe")
    return 1 if problems else 0


def _client_bounties(deps, client_id: str) -> list[str]:
    ids, cursor = [], None
    while True:
        page = deps.repo.list_client_bounties(client_id, limit=100, cursor=cursor)
        ids += [b.id for b in page.items]
        cursor = page.next_cursor
        if cursor is None:
            return ids


def _every_bounty() -> list[str]:
    """Reads the whole bounties table: fine for an operator's audit, never done on a request path."""
    from chalicelib.adapters import dynamo_models as m

    m.bind()
    return [item.id for item in m.BountyModel.scan(attributes_to_get=["id"])]


def failed_payouts(args, deps) -> int:
    cursor, count = None, 0
    while True:
        page = deps.repo.list_failed_payouts(limit=100, cursor=cursor)
        for p in page.items:
            print(f"{p.id}\t{p.bounty_id}\t{p.freelancer_id}\t{p.amount} {p.currency}\t"
                  f"{p.attempts} attempts\t{p.last_error or ''}")
            count += 1
        cursor = page.next_cursor
        if cursor is None:
            print(f"{count} failed payouts")
            return 0


def redrive(args, deps) -> int:
    from chalicelib.services import payouts

    if not (args.payout or args.all_failed or args.dlq):
        sys.exit("redrive: name payout ids, or --all-failed, or --dlq (see --help)")
    payout_ids = list(args.payout)
    if args.all_failed:
        page_cursor = None
        while True:
            page = deps.repo.list_failed_payouts(limit=100, cursor=page_cursor)
            payout_ids += [p.id for p in page.items]
            page_cursor = page.next_cursor
            if page_cursor is None:
                break
    from chalicelib.core import errors
    from chalicelib.core.model import PAID

    sent, refused = 0, 0
    for payout_id in dict.fromkeys(payout_ids):  # each once, however often named
        try:
            payouts.redrive(deps, payout_id)
        except errors.DomainError as error:
            stored = deps.repo.get_payout(payout_id)
            if stored is not None and stored.status == PAID:  # re-driven (or paid) already: safe to repeat
                print(f"{payout_id} is paid already: nothing to send")
                continue
            print(f"{payout_id} not re-driven: {error}")
            refused += 1
            continue
        print(f"{payout_id} queued again")
        sent += 1
    moved = _move_dead_letters(deps) if args.dlq else 0
    print(f"{sent} payouts re-driven, {moved} dead letters moved back to their queues"
          + (f", {refused} not re-driven" if refused else ""))
    return 1 if refused else 0


def _move_dead_letters(deps) -> int:
    """Every message of each DLQ goes back to its source queue (handlers are idempotent: safe to repeat)."""
    from chalicelib import config

    sqs = deps.queue.client
    moved = 0
    for queue in (config.payouts_queue_name(), config.refunds_queue_name(), config.timers_queue_name()):
        source, dead = deps.queue.url(queue), deps.queue.url(f"{queue}-dlq")
        while True:
            # A short poll (no wait) samples some of SQS's servers and may come back empty while a few messages
            # wait; a wait of a second asks them all, so an empty answer means an empty queue.
            messages = sqs.receive_message(QueueUrl=dead, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                           VisibilityTimeout=60).get("Messages", [])
            if not messages:
                break
            for message in messages:
                sqs.send_message(QueueUrl=source, MessageBody=message["Body"])
                sqs.delete_message(QueueUrl=dead, ReceiptHandle=message["ReceiptHandle"])
                moved += 1
    return moved


# Upgrade steps that only bring stored items up to date: the function of chalicelib.adapters.dynamo_upgrades each
# runs, what its count is of, and when to run it (the command's help).
STORED_ITEM_STEPS = {
    "index-unpaid": ("index_unpaid_payouts", "unpaid payouts stored before the unpaid index were put into it",
                     "once after upgrading: put unpaid payouts stored by an older release into the unpaid index "
                     "(reads the whole payouts table)"),
    "file-unfunded-expiry": ("file_unfunded_expiry", "unfunded bounties posted before bounties got a deadline timer "
                                                     "when posted were given one",
                             "once after upgrading: file the deadline timer of unfunded bounties an older release "
                             "posted without one, so they expire (reads the whole bounties table)"),
    "note-submissions": ("note_submissions", "participant records of an earlier release were given the list of "
                                             "their submissions",
                         "once after upgrading: list on each participant record of an older release its "
                         "freelancer's submissions to the bounty (reads the whole participants table)"),
    "copy-work": ("copy_work", "claims, submissions and payouts were copied into their freelancer's list of work",
                  "once after upgrading: copy each claim, submission and payout an older release stored into its "
                  "freelancer's list of work (reads the whole claims, submissions and payouts tables)"),
    "end-cancelled-claims": ("end_cancelled_claims", "cancelled bounties with claims still live were given the "
                                                     "timer that ends them",
                             "once after upgrading: end the claims still live on bounties an older release "
                             "cancelled (reads the whole claims table)"),
    "index-reviews": ("index_reviews", "submissions awaiting review were put into their client's review queue",
                      "once after upgrading: put the work an older release took in, still awaiting review, into its "
                      "client's review queue (reads the whole submissions table)"),
    "time-bounties": ("time_bounties", "bounties with approved work were given the totals of its time",
                      "once after upgrading: count the time approved work took on each bounty an older release "
                      "stored, for what it really pays per hour (reads the whole bounties table)"),
    "index-search": ("index_search", "bounties were given the text a search of bounties looks in",
                     "once after upgrading: give each bounty an older release stored the text that searching "
                     "bounties (?q=) looks in (reads the whole bounties table)"),
}


def _stored_item_step(step: str):
    def run(args, deps) -> int:
        from chalicelib.adapters import dynamo_upgrades

        function, counted, _ = STORED_ITEM_STEPS[step]
        print(f"{getattr(dynamo_upgrades, function)()} {counted}")
        return 0

    return run


def cancel_unpaid_intents(args, deps) -> int:
    from chalicelib import config
    from chalicelib.adapters.dynamo_upgrades import closed_unpaid_with_intent

    bounty_ids = closed_unpaid_with_intent()
    for bounty_id in bounty_ids:  # the refunds worker cancels each intent, as after a cancel or expiry now
        deps.queue.send(config.refunds_queue_name(), {"bounty_id": bounty_id})
    print(f"{len(bounty_ids)} bounties closed before they were paid were queued to have their payment cancelled")
    return 0


def _shard_count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError("a whole number of shards, at least 1")
    return int(text)


def _reshard_target(args, setting: str, running: int) -> str | None:
    """Why the move would hide items (moved to shards the stage does not read), or None."""
    if args.to != running:
        return (f"the stage runs with {setting}={running}, not {args.to}: moving to {args.to} shards would put items "
                f"where it does not read them. Deploy the new setting first (infra/stages.json), or give --to "
                f"{running}.")
    return None


def _shards_read(args) -> int:
    """Every shard an item may sit under, whatever --from says: a --from below the real old count would leave the
    items of the shards above it behind, unseen."""
    from infra.build_template import MAX_SHARDS

    return max(args.previous, MAX_SHARDS)


def reshard_open(args, deps) -> int:
    from chalicelib import config
    from chalicelib.adapters.dynamo_upgrades import reshard_open_bounties

    if refused := _reshard_target(args, "OPEN_INDEX_SHARDS", config.open_index_shards()):
        sys.exit(f"reshard-open: {refused}")
    moved = reshard_open_bounties(_shards_read(args), args.to)
    print(f"{moved} open bounties moved from {args.previous} shards to {args.to}")
    return 0


def reshard_timers(args, deps) -> int:
    from chalicelib import config
    from chalicelib.adapters.dynamo_upgrades import reshard_timers as move

    if refused := _reshard_target(args, "TIMER_SHARDS", config.timer_shards()):
        sys.exit(f"reshard-timers: {refused}")
    print(f"{move(_shards_read(args), args.to)} timers moved from {args.previous} shards to {args.to}")
    return 0


def _command(commands, name: str, *, help: str):  # noqa: A002 - argparse's naming
    """A subcommand whose one-line help is also its own --help description, and whose usage line shows where it
    runs (`--local` or `--stage`, which come before the command)."""
    return commands.add_parser(name, help=help, description=help,
                               prog=f"python -m ops (--local | --stage NAME) {name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops", description=__doc__)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--local", action="store_true", help="the stack `make run` is running")
    where.add_argument("--stage", help="a deployed stage (AWS credentials from the environment)")
    parser.add_argument("--state-dir", default=os.environ.get("LOCAL_STATE_DIR") or str(ROOT / ".local"),
                        help=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", required=True)
    check = _command(commands, "reconcile", help="compare bounties' ledgers with Stripe; exit 1 on a difference")
    check.add_argument("--bounty", action="append", default=[], help="a bounty id (repeatable)")
    check.add_argument("--client", help="every bounty of this client account")
    check.add_argument("--all", action="store_true", help="every bounty (reads the whole table)")
    _command(commands, "failed-payouts", help="list payouts that failed after every retry")
    again = _command(commands, "redrive", help="send failed payouts (and dead letters) through again")
    again.add_argument("payout", nargs="*", help="payout ids")
    again.add_argument("--all-failed", action="store_true", help="every failed payout")
    again.add_argument("--dlq", action="store_true", help="also move every dead letter back to its queue")
    for step, (_, _, when) in STORED_ITEM_STEPS.items():
        _command(commands, step, help=when)
    _command(commands, "cancel-unpaid-intents", help="once after upgrading: cancel on Stripe the payment of each "
                                                      "bounty an older release cancelled or expired before it was "
                                                      "paid (reads the whole bounties table)")
    reshard = _command(commands, "reshard-open", help="after changing OPEN_INDEX_SHARDS: move open bounties to the "
                                                       "shards the new setting gives them")
    timers = _command(commands, "reshard-timers", help="after changing TIMER_SHARDS: move every timer to the "
                                                        "shard the new setting gives it (or it never fires)")
    for command, setting in ((reshard, "OPEN_INDEX_SHARDS"), (timers, "TIMER_SHARDS")):
        command.add_argument("--from", dest="previous", type=_shard_count, required=True, metavar="N",
                             help=f"the {setting} the stage ran with before")
        command.add_argument("--to", type=_shard_count, required=True, metavar="N",
                             help=f"the {setting} it runs with now")
    args = parser.parse_args(argv)
    _environment(args)

    from chalicelib.bootstrap import deps

    handler = {"reconcile": reconcile, "failed-payouts": failed_payouts, "redrive": redrive,
               **{step: _stored_item_step(step) for step in STORED_ITEM_STEPS},
               "cancel-unpaid-intents": cancel_unpaid_intents,
               "reshard-open": reshard_open,
               "reshard-timers": reshard_timers}[args.command]
    try:
        return handler(args, deps())
    except Exception as error:
        if not _reaching_aws(error):
            raise
        where = "the local stack" if args.local else f"stage {args.stage}"
        if "ParameterNotFound" in str(error):
            sys.exit(f"ops: {args.command} on {where} could not read a secret from SSM: {error}\n"
                     "The stage's secrets are stored by `make deploy` (docs/DEPLOY.md); or give the value in the "
                     "environment (STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, API_KEY_PEPPER).")
        sys.exit(f"ops: {args.command} on {where} could not reach its tables or queues: {error}\n"
                 "Check AWS_REGION (or AWS_DEFAULT_REGION) and the credentials in the environment, and that the stage "
                 "is deployed (`make deploy STAGE=...`); locally, that `make run` is running.")


def _reaching_aws(error: BaseException) -> bool:
    """Whether an error is about reaching AWS (no region, no credentials, no such table or queue), which an
    operator fixes in their environment, rather than a fault of the command."""
    from botocore.exceptions import BotoCoreError, ClientError
    from pynamodb.exceptions import PynamoDBException

    return isinstance(error, BotoCoreError | ClientError | PynamoDBException)


if __name__ == "__main__":
    sys.exit(main())

"""The local runner hands each queue's handler batches of the size its event source has when deployed: one
message at a time to the workers that call Stripe (so one slow Stripe call cannot make a batch outlast the
function's timeout), up to ten to the timers worker."""

from chalicelib.workers import queues


def test_each_handler_gets_batches_of_its_deployed_size(workers):
    runner = workers.runner
    assert runner.batch_sizes[workers.payouts_queue] == queues.STRIPE_BATCH_SIZE == 1
    assert runner.batch_sizes[workers.timers_queue] == 10
    workers.drain()
    seen: list[tuple[str, int]] = []
    invoke = runner.client.lambda_.invoke

    def counting(name, event):
        seen.append((name, len(event["Records"])))
        return invoke(name, event)

    runner.client.lambda_.invoke = counting
    try:
        for n in range(3):
            workers.deliver_again(workers.payouts_queue, {"payout_id": f"pay_missing{n}"})
            workers.deliver_again(workers.timers_queue, {"kind": "expire_bounty", "ref_id": f"bty_missing{n}"})
        workers.drain()
    finally:
        runner.client.lambda_.invoke = invoke
    payouts = [size for name, size in seen if name == "payouts_worker"]
    timers = [size for name, size in seen if name == "timers_worker"]
    assert payouts == [1, 1, 1], seen
    assert sum(timers) == 3, seen  # however SQS happened to hand them out, in batches of up to ten

"""The local runner hands each queue's handler batches of the size its event source has when deployed: one
message at a time to the workers that call Stripe (so one slow Stripe call cannot make a batch outlast the
function's timeout), up to ten to the timers worker; and each invocation a Lambda context with its function's time."""

from chalicelib.workers import queues


def test_each_handler_gets_batches_of_its_deployed_size(workers):
    runner = workers.runner
    assert runner.batch_sizes[workers.payouts_queue] == queues.STRIPE_BATCH_SIZE == 1
    assert runner.batch_sizes[workers.timers_queue] == 10
    workers.drain()
    seen: list[tuple[str, int]] = []
    invoke = runner.invoke

    def counting(name, event, **kw):
        seen.append((name, len(event["Records"])))
        return invoke(name, event, **kw)

    runner.invoke = counting
    try:
        for n in range(3):
            workers.deliver_again(workers.payouts_queue, {"payout_id": f"pay_missing{n}"})
            workers.deliver_again(workers.timers_queue, {"kind": "expire_bounty", "ref_id": f"bty_missing{n}"})
        workers.drain()
    finally:
        del runner.invoke
    payouts = [size for name, size in seen if name == "payouts_worker"]
    timers = [size for name, size in seen if name == "timers_worker"]
    assert payouts == [1, 1, 1], seen
    # However SQS happened to hand them out, in batches of up to ten, and each handled where it was handed out:
    # none put back for want of time (a put-back message would be delivered again).
    assert sum(timers) == 3, seen


def test_each_invocation_has_its_functions_timeout_stretched_as_the_local_call_limits(workers):
    """The handlers weigh the time left in their Lambda context against their calls at their slowest; the local
    stack gives every call longer limits than deployed, and every function a timeout longer by as much."""
    from chalicelib import config

    runner = workers.runner
    stretch = config.aws_call_limits().slowest_seconds / config.DEPLOYED_CALL_LIMITS.slowest_seconds
    assert stretch > 1  # the tests' limits (tests/conftest.py) are the local stack's
    for name, deployed in (("timers_worker", 60), ("sweep_timers", 60), ("payouts_worker", 150)):
        left = runner.context_for(name).get_remaining_time_in_millis() / 1000
        assert deployed * stretch - 1 < left <= deployed * stretch, name
    # The deployed arithmetic holds locally too: a timers message at its slowest fits the time a batch starts with.
    assert runner.context_for("timers_worker").get_remaining_time_in_millis() / 1000 > \
        queues.timer_message_seconds() + queues.TimeLeft.ANSWER_SECONDS

"""Operator commands (`python -m ops ...`): reconcile the ledger with Stripe, list and re-drive failed payouts.
They run on an operator's machine against the local stack (`--local`) or a deployed stage (`--stage NAME`)."""

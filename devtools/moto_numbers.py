"""Numbers stored as DynamoDB stores them: without leading or trailing zeroes, exponents written out.

DynamoDB's Developer Guide (data types): numbers are variable length, "Leading and trailing zeroes are trimmed".
DynamoDB answers "1.0" as 1, "00042" as 42, "1.5E2" as 150 and "-0" as 0; stock moto answers a number as it was
sent, and its arithmetic (ADD, SET a = a + :n) writes "2.0" for 1.5 + 0.5. PynamoDB reads "1" as an int and "1.0" as
a float, so on moto a float written whole came back a float where production gives an int, and code that treats the
two differently was tested against an answer production never gives. moto also failed its own arithmetic on a
number sent with an exponent and no point ("1e+20", which json.dumps writes for the float 1e20).

Here each number is held in that canonical form from the moment moto reads it (an item, a value of an expression,
a result of its arithmetic). A string that is no finite number is left as sent, for moto to refuse as before.
"""

from __future__ import annotations

from decimal import Context, Decimal, InvalidOperation

from moto.dynamodb.models.dynamo_type import DynamoType

STOCK_INIT = DynamoType.__init__
_EXACT = Context(prec=60)  # past the 38 significant digits DynamoDB holds: nothing is rounded


def canonical(number):
    """The number as DynamoDB answers it; anything else as it is."""
    if not isinstance(number, str) or number != number.strip():
        return number
    try:
        value = Decimal(number)
    except InvalidOperation:
        return number
    if not value.is_finite():
        return number
    if value.is_zero():
        return "0"
    return format(value.normalize(_EXACT), "f")


def _built(self: DynamoType, type_as_dict) -> None:
    STOCK_INIT(self, type_as_dict)
    if self.type == "N":
        self.value = canonical(self.value)
    elif self.type == "NS" and isinstance(self.value, list):
        self.value = [canonical(member) for member in self.value]


def install() -> None:
    assert DynamoType.__init__ in (STOCK_INIT, _built)
    DynamoType.__init__ = _built

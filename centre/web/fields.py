"""Path parameters and body fields that more than one router declares alike."""
from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import StringConstraints

# The largest number a BIGINT column (and SQLite's INTEGER) holds: every integer from outside that
# goes to the database is bounded by it, or by something tighter, so it is a 422 rather than an
# overflow in the driver.
INT64_MAX = 2**63 - 1
# The largest float every integer up to which is exact: for figures a unit may send as fractions.
EXACT_FLOAT_MAX = float(2**53)
# A ledger entry's or an appeal's id, bounded so that no id reaches the database as a number its
# BIGINT cannot hold.
RowId = Annotated[int, Path(ge=1, le=2**62)]
# A month in a path: YYYY-MM (Month.parse then checks the year's range).
MonthText = Annotated[str, Path(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
# Who did something, in an admin's JSON body (the admin token cannot tell managers apart).
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]

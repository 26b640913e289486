"""Path parameters and body fields that more than one router declares alike."""
from __future__ import annotations

from typing import Annotated

from fastapi import Path
from pydantic import StringConstraints

# A ledger entry's or an appeal's id, bounded so that no id reaches the database as a number its
# BIGINT cannot hold.
RowId = Annotated[int, Path(ge=1, le=2**62)]
# A month in a path: YYYY-MM (Month.parse then checks the year's range).
MonthText = Annotated[str, Path(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]
# Who did something, in an admin's JSON body (the admin token cannot tell managers apart).
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]

"""The monthly window (or staff) report: scoring as pure functions (`scoring`), the month's rows
from the database (`source`), CSV/JSON/XLSX (`formats`), the report as an HTTP download
(`download`), and what managers add to a month: supervision scores (`supervision`) and the
callback list (`callbacks`)."""

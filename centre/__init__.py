"""The head office's server: ingest, reports, the 差评 ledger and the dashboard (README.md: its layout,
commands and API)."""

"""The managers' dashboard (HTML, in Chinese): accounts and sessions (`accounts`, `session`),
templates and their filters (`templating`, `templates/`), the pages (`pages`, `ledger_pages`),
the figures they show (`figures`) and the CSS and Chart.js they load (`static/`)."""

"""The sim panel (`GET /sim/` on a `kiosk run --sim` unit): the citizen's screen, the ten keys,
the printer's switches and every slip it printed, and what the speaker said, in a browser."""

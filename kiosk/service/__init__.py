"""`kiosk run`: the unit's process — the API server in the app's loop, systemd notification, the
link to the centre."""

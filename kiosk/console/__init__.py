"""The staff console (DESIGN.md "Staff console"): `GET /console/` on a counter or `both` unit, for
the staff PC's browser on the hall LAN or a small staff touchscreen, served by the unit itself.

- `pins`: PIN checks against the roster's `pin_hash` (protocol.pins), off the event loop, with the
  lockout (five wrong PINs lock a staff ID for five minutes);
- `sessions`: the session cookie's server side (random tokens, bound to a staff member and to the
  counter's sign-in they made), their CSRF tokens, expiry;
- `guard`: what every console request must pass (same origin, session, CSRF token);
- `watch`: what the console follows beside the unit's state (the last citizen's 已评价/未评价, the
  counter's sign-in, the queue host's waiting counts while a console looks);
- `snapshot`: what the page shows, as JSON; `words`: refusals in Chinese;
- `routes`: the console's routes, mounted by kiosk.api.server; `static/`: the page itself.

Every action calls the same app and queue methods as the local API's route for it, so the event
log cannot tell the console from the API.
"""

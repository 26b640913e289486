"""The hall display (`GET /hall/` on the queue host): a full-screen page for the waiting room's TV
with the numbers being served and their windows, the last calls, the waiting per category and the
centre's announcements, live. `board`: what it shows (public: nothing private); `announcements`:
the bundle's, read leniently; `routes`: mounted by kiosk.api.server; `static/`: the page itself.
The hall's voice is the queue's (kiosk.queue.announcer)."""

"""The citizen's phone (DESIGN "The citizen's phone"): public pages, apart from the dashboard and the
unit API: no cookies, no admin data, limited per client address, found only by an unguessable
reference."""

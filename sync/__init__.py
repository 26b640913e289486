"""The unit's link to its centre, as a library: enrolment (provision), the uploader (an event source
→ the centre), the bundle download, the HTTP client, and the state-dir files these keep (paths,
files). It knows the wire format (`protocol`) and nothing of the unit it serves: the unit hands it
its event store (through `uploader.EventSource`), its `[sync]` settings (`settings.SyncSettings`)
and its version, and turns the bundle into its own roster and reasons itself.
"""

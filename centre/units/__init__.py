"""The centre's units: adding and enrolling them (`enrolment`), receiving their uploads
(`upload`, with `batches` checking a batch before it touches the database), fleet health and the
audit trail (`fleet`), the bundle and staff photos they download (`bundle`), and the shapes of
what units and admins send (`schemas`)."""

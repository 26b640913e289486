"""Dates as the centre counts them: its time zone and report months (`months`), the holiday
calendar and working days (`holidays`)."""

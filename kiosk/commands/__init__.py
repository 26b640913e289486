"""The `kiosk` commands other than `run`: provision, selftest, status, sync.

Their exit codes, one set for all of them:"""

EXIT_OK = 0
EXIT_FAILED = 1     # the check or the centre failed, or refused
EXIT_USAGE = 2      # a bad flag or answer, not provisioned, no centre URL, a broken state dir

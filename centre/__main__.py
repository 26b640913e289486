import sys

from centre.cli import main

sys.exit(main())

"""A hook plugin that records being imported, so a test can prove it was not."""

import os
from pathlib import Path

Path(os.environ["DEMO_SENTINEL_FILE"]).write_text("imported")

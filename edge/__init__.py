"""edgestats edge: turns CloudFront traffic into canonical page-view events.

This package is what ships to Lambda@Edge and the Firehose transformation Lambda,
so it imports neither `infra` nor `orchestration` and keeps its dependencies small.
"""

__version__ = "0.1.0"

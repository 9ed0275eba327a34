"""Moving bytes: one policy for retries and limits (``policy``), one proof every answer must give
(``proof``), the single stream (``stream``), the ranged parts of a large object (``parts``), the
small objects of a prefix (``batch``), the hashes (``hashing``) and progress (``progress``);
``fetch`` puts one file through them."""

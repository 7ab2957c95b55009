"""HTTP pieces every dialect uses: fast JSON responses and streamed JSON arrays."""

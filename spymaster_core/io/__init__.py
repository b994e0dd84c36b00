"""Vendor and storage I/O: DBN decoding and its compiled kernels, CSV readers, the lake (local and s3://), landing."""

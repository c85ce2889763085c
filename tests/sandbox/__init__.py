"""The sandbox's own tests: its AWS answers over HTTP with raw boto3, no stsmagic client code."""

"""A real S3 protocol server for the object-storage tests: ``moto`` in server mode, in a
process of its own on a free port, with boto3 to make and inspect its bucket."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import boto3

from tests.support.servers import free_port, wait_for_port

BUCKET = "chat-files"
REGION = "us-east-1"
KEY_ID = "messenger-test-key"
SECRET = "messenger-test-secret"


class S3Server:
    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def env(self, prefix: str = "uploads") -> dict[str, str]:
        """The app's settings for this bucket."""
        return {
            "MESSENGER_STORAGE_URL": f"s3://{BUCKET}/{prefix}",
            "MESSENGER_S3_ENDPOINT": self.endpoint,
            "MESSENGER_S3_REGION": REGION,
            "MESSENGER_S3_ACCESS_KEY_ID": KEY_ID,
            "MESSENGER_S3_SECRET_ACCESS_KEY": SECRET,
        }

    def client(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
        )

    def start(self) -> S3Server:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.process, self.port, "moto server", within=20)
        self.client().create_bucket(Bucket=BUCKET)
        return self

    def objects(self, prefix: str = "") -> dict[str, int]:
        """Every object's key and size."""
        listed = self.client().list_objects_v2(Bucket=BUCKET, Prefix=prefix)
        return {o["Key"]: o["Size"] for o in listed.get("Contents", [])}

    def unfinished_uploads(self) -> list[str]:
        listed = self.client().list_multipart_uploads(Bucket=BUCKET)
        return [u["Key"] for u in listed.get("Uploads", [])]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

#!/usr/bin/env python3
"""Bucket chores for the object-storage tests (an independent S3 client: boto3).

  s3_objects.py mb BUCKET
  s3_objects.py put BUCKET KEY FILE
  s3_objects.py rm BUCKET KEY
  s3_objects.py download BUCKET DIR     # every object, to DIR/KEY

Endpoint and credentials come from the standard AWS_* environment variables.
"""
import os
import sys

import boto3


def client():
    return boto3.client(
        "s3",
        endpoint_url=os.environ["AWS_ENDPOINT"],
        region_name=os.environ.get("AWS_REGION", "us-east-1"),
    )


def main(argv):
    cmd, bucket, *rest = argv
    s3 = client()
    if cmd == "mb":
        s3.create_bucket(Bucket=bucket)
    elif cmd == "put":
        key, path = rest
        with open(path, "rb") as f:
            s3.put_object(Bucket=bucket, Key=key, Body=f.read())
    elif cmd == "rm":
        s3.delete_object(Bucket=bucket, Key=rest[0])
    elif cmd == "download":
        (out,) = rest
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                path = os.path.join(out, obj["Key"])
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as f:
                    f.write(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv[1:])

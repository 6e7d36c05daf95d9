"""Signs an XKS Proxy API GetHealthStatus request with botocore's SigV4Auth and prints it.

The simulator's XKS proxy stand-in verifies SigV4 with code of its own; botocore is a signer that
shares nothing with it (nor with the AWS SDK for JavaScript the product signs with), so a request
it signs must be accepted, and one it signs for another Region, service or secret refused.

Input (one JSON object on stdin):
  url                 where the request goes, e.g. http://127.0.0.1:4566/_xks/<host>/kms/xks/v1/health
  body                the exact request body to sign
  region, service     the credential scope (service kms-xks-proxy for a real XKS call)
  access_key_id, secret_access_key
  signed_at           optional ISO-8601 UTC time to sign at (default: now), to make stale requests

Output (one JSON object on stdout): {"method", "url", "headers", "body"}, the headers being what
botocore added (Authorization, X-Amz-Date) plus Content-Type, all of which must be sent as they are.
"""

import datetime
import json
import sys

import botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def main() -> None:
    spec = json.load(sys.stdin)
    signed_at = spec.get("signed_at")
    if signed_at:
        moment = datetime.datetime.fromisoformat(signed_at.replace("Z", "+00:00"))
        # botocore reads the clock through this function when it signs.
        botocore.auth.get_current_datetime = lambda *args, **kwargs: moment
    request = AWSRequest(
        method="POST",
        url=spec["url"],
        data=spec["body"].encode("utf-8"),
        headers={"Content-Type": "application/json"},
    )
    credentials = Credentials(spec["access_key_id"], spec["secret_access_key"])
    SigV4Auth(credentials, spec["service"], spec["region"]).add_auth(request)
    json.dump(
        {
            "method": request.method,
            "url": request.url,
            "headers": {name: value for name, value in request.headers.items()},
            "body": spec["body"],
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""A proxy in front of moto that answers like a busy or strict AWS account.

  aws_proxy.py --upstream http://127.0.0.1:5000 --port 0 [--throttle 0.3] [--deny sns,...]

Prints the port it listens on, then serves until killed. A configurable share of requests is
answered with each service's own throttling error (EC2 `RequestLimitExceeded`, query services
`Throttling`/`Rate exceeded`, JSON services `ThrottlingException`, Lambda HTTP 429, S3
`SlowDown`), chosen by a seeded random generator; requests to denied services get that
service's access-denied error; `--delay-ms` slows every request; with `--public-keys FILE` it answers CloudTrail's
ListPublicKeys (which moto lacks) from an `aws cloudtrail list-public-keys` file. GET /__proxy/stats returns the
counts, S3 object reads and listings (with their prefixes) among them.
"""
import argparse, http.client, json, random, re, sys, threading, time
from urllib.parse import parse_qs
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

STATS = {"requests": 0, "throttled": 0, "denied": 0, "forwarded": 0, "s3_gets": 0, "s3_lists": [],
         "list_public_keys": [], "by_service": {}}
LOCK = threading.Lock()


def service_of(headers):
    m = re.search(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request", headers.get("Authorization", ""))
    return m.group(1) if m else "unknown"


def error_for(service, content_type, kind):
    """(status, headers, body) of a throttling or access-denied answer in the service's protocol."""
    throttle = kind == "throttle"
    if service == "ec2":
        code = "RequestLimitExceeded" if throttle else "UnauthorizedOperation"
        body = (f"<Response><Errors><Error><Code>{code}</Code><Message>"
                f"{'Request limit exceeded.' if throttle else 'You are not authorized to perform this operation.'}"
                f"</Message></Error></Errors><RequestID>proxy</RequestID></Response>")
        return (503 if throttle else 403), {"Content-Type": "text/xml"}, body
    if service == "s3":
        code = "SlowDown" if throttle else "AccessDenied"
        body = f"<Error><Code>{code}</Code><Message>{'Please reduce your request rate.' if throttle else 'Access Denied'}</Message></Error>"
        return (503 if throttle else 403), {"Content-Type": "application/xml"}, body
    if service == "lambda":
        code = "TooManyRequestsException" if throttle else "AccessDeniedException"
        return (429 if throttle else 403), {"Content-Type": "application/json", "x-amzn-ErrorType": code}, \
            json.dumps({"message": "Rate exceeded" if throttle else "not authorized"})
    if "json" in (content_type or ""):
        code = "ThrottlingException" if throttle else "AccessDeniedException"
        return 400, {"Content-Type": content_type, "x-amzn-query-error": f"{code};Sender"}, \
            json.dumps({"__type": code, "message": "Rate exceeded" if throttle else "not authorized"})
    code = "Throttling" if throttle else ("AuthorizationError" if service == "sns" else "AccessDenied")
    body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>"
            f"{'Rate exceeded' if throttle else 'User is not authorized to perform this action'}"
            f"</Message></Error><RequestId>proxy</RequestId></ErrorResponse>")
    return (400 if throttle else 403), {"Content-Type": "text/xml"}, body


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without this, Nagle's algorithm and the
    # client's delayed ACK add ~40 ms to every answer.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def handle_any(self):
        if self.path == "/__proxy/stats":
            with LOCK:
                body = json.dumps(STATS).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else None
        service = service_of(self.headers)
        if self.server.delay:
            time.sleep(self.server.delay)
        with LOCK:
            STATS["requests"] += 1
            STATS["by_service"][service] = STATS["by_service"].get(service, 0) + 1
            if service == "s3" and self.command == "GET":
                query = parse_qs(urlparse(self.path).query, keep_blank_values=True)
                if "list-type" in query or "prefix" in query or "delimiter" in query:
                    STATS["s3_lists"].append((query.get("prefix") or [""])[0])
                elif urlparse(self.path).path.count("/") >= 2:
                    STATS["s3_gets"] += 1
            kind = None
            if service in self.server.deny:
                kind = "deny"
                STATS["denied"] += 1
            elif self.server.rng.random() < self.server.throttle:
                kind = "throttle"
                STATS["throttled"] += 1
            else:
                STATS["forwarded"] += 1
        if not kind and service == "cloudtrail" and self.server.public_keys is not None \
                and self.headers.get("X-Amz-Target", "").endswith("ListPublicKeys"):
            self.list_public_keys(data)
            return
        if kind:
            status, headers, body = error_for(service, self.headers.get("Content-Type"), kind)
            body = body.encode()
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        conn = http.client.HTTPConnection(self.server.upstream.hostname, self.server.upstream.port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
        conn.request(self.command, self.path, body=data, headers=headers)
        resp = conn.getresponse()
        payload = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
        conn.close()

    def list_public_keys(self, data):
        """moto lacks CloudTrail's ListPublicKeys: answer it from a `list-public-keys` file,
        keys valid in the asked range only, with the region recorded."""
        import datetime
        asked = json.loads(data or b"{}")
        region = re.search(r"Credential=[^/]+/[^/]+/([^/]+)/", self.headers.get("Authorization", ""))
        with LOCK:
            STATS["list_public_keys"].append({"region": region.group(1) if region else "", **asked})
        epoch = lambda t: datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()
        keys = []
        for k in self.server.public_keys["PublicKeyList"]:
            start, end = epoch(k["ValidityStartTime"]), epoch(k["ValidityEndTime"])
            if asked.get("EndTime", end) < start or asked.get("StartTime", start) > end:
                continue
            keys.append({"Value": k["Value"], "ValidityStartTime": start, "ValidityEndTime": end,
                         "Fingerprint": k["Fingerprint"]})
        body = json.dumps({"PublicKeyList": keys}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_any


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--throttle", type=float, default=0.0)
    ap.add_argument("--deny", default="")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--public-keys", help="answer CloudTrail ListPublicKeys from this list-public-keys file")
    ap.add_argument("--delay-ms", type=float, default=0.0, help="wait this long before each request")
    a = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    server.daemon_threads = True
    server.upstream = urlparse(a.upstream)
    server.throttle = a.throttle
    server.deny = {s for s in a.deny.split(",") if s}
    server.rng = random.Random(a.seed)
    server.delay = a.delay_ms / 1000.0
    server.public_keys = json.load(open(a.public_keys)) if a.public_keys else None
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

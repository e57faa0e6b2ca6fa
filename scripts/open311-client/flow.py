#!/usr/bin/env python3
"""Drives an Open311 GeoReport v2 endpoint with an independent client library.

Reads (service list, service definition, one request, request lists) go through the
`georeport` package (PyPI), in JSON and in XML (it parses XML with xmltodict). That
library has no discovery, POST or token calls: those are made here with the standard
library (urllib + xml.etree), in both formats.

Usage: flow.py --base http://127.0.0.1:8081/open311/v2 --api-key KEY --address-id CODE
               [--jurisdiction 330122] [--service transport] [--private-service land]
`--service` must be a public category (its requests are listed), `--private-service`
one that is not (its requests are registered but never shown).
Exits 0 when every step matched, 1 with a message on the first mismatch.
"""

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

import requests
from georeport import GeoReport

PERSONAL = {"last_name": "张", "first_name": "三丰", "phone": "13800138000",
            "email": "zhang@example.com"}


class Mismatch(Exception):
    pass


def expect(cond, what):
    if not cond:
        raise Mismatch(what)


def as_list(x):
    """xmltodict gives one element as a dict and several as a list."""
    if x is None:
        return []
    return x if isinstance(x, list) else [x]


def http(method, url, data=None):
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def parse(fmt, raw, item):
    """A list of dicts from a JSON array or an XML <root><item>…</item></root>."""
    if fmt == "json":
        return json.loads(raw)
    root = ET.fromstring(raw)
    return [{c.tag: (c.text or "") for c in el} for el in root.findall(item)]


def discovery(base, fmt):
    status, ctype, raw = http("GET", f"{base}/discovery.{fmt}")
    expect(status == 200, f"discovery.{fmt}: status {status}")
    if fmt == "json":
        expect(ctype.startswith("application/json"), f"discovery.json content type {ctype}")
        d = json.loads(raw)
        ep = d["endpoints"][0]
        expect("GeoReport_v2" in ep["specification"], "discovery: specification")
        expect("application/json" in ep["formats"] and "text/xml" in ep["formats"],
               "discovery: formats")
    else:
        expect(ctype.startswith("text/xml"), f"discovery.xml content type {ctype}")
        root = ET.fromstring(raw)
        expect(root.tag == "discovery", "discovery.xml root")
        formats = [f.text for f in root.iter("format")]
        expect("text/xml" in formats and "application/json" in formats, "discovery.xml formats")


def post(base, fmt, data):
    status, ctype, raw = http("POST", f"{base}/requests.{fmt}", data)
    return status, parse(fmt, raw, "request" if status < 400 else "error")


def flow(args, fmt):
    base = args.base.rstrip("/")
    client = GeoReport(base, jurisdiction=args.jurisdiction, output_format=fmt)

    discovery(base, fmt)

    services = as_list(client.get_service_list())
    codes = [s["service_code"] for s in services]
    expect(args.service in codes, f"{fmt}: services lack {args.service}: {codes}")
    svc = next(s for s in services if s["service_code"] == args.service)
    expect(str(svc["metadata"]).lower() == "true", f"{fmt}: metadata of {args.service}")
    expect(svc["type"] == "realtime", f"{fmt}: type of {args.service}")

    definition = client.get_service_definition(args.service)
    attrs = definition["attributes"]
    if fmt == "xml":
        attrs = as_list(attrs["attribute"])
    attr_codes = [a["code"] for a in attrs]
    expect("urgency" in attr_codes, f"{fmt}: definition lacks urgency: {attr_codes}")
    urgency = next(a for a in attrs if a["code"] == "urgency")
    values = urgency["values"]
    if fmt == "xml":
        values = as_list(values["value"])
    expect(sorted(v["key"] for v in values) == ["important", "normal", "urgent"],
           f"{fmt}: urgency values {values}")

    try:
        client.get_service_definition("no_such_service")
        raise Mismatch(f"{fmt}: unknown service definition answered 200")
    except requests.HTTPError as e:
        expect(e.response.status_code == 404, f"{fmt}: unknown definition {e.response.status_code}")

    description = f"村道路灯损坏多日，夜间出行不便（{fmt}）"
    form = {
        "service_code": args.service,
        "address_id": args.address_id,
        "description": description,
        "attribute[urgency]": "important",
        "jurisdiction_id": args.jurisdiction or "",
        **PERSONAL,
    }
    # No api_key in the form: refused.
    status, errs = post(base, fmt, form)
    expect(status == 403, f"{fmt}: POST without api_key gave {status}")
    expect(errs and int(errs[0]["code"]) == 403 and errs[0]["description"],
           f"{fmt}: POST without api_key error array {errs}")

    status, errs = post(base, fmt, {**form, "api_key": args.api_key, "service_code": "nope"})
    expect(status == 400, f"{fmt}: POST with unknown service_code gave {status}")
    expect(any("service_code" in e["description"] for e in errs), f"{fmt}: {errs}")

    status, created = post(base, fmt, {**form, "api_key": args.api_key})
    expect(status in (200, 201), f"{fmt}: POST gave {status}: {created}")
    expect(len(created) == 1, f"{fmt}: POST answered {created}")
    rid = created[0]["service_request_id"]
    token = created[0].get("token")
    expect(rid, f"{fmt}: no service_request_id in {created}")

    got = client.get_service_request(rid)
    expect(got["service_request_id"] == rid, f"{fmt}: got {got}")
    expect(got["status"] == "open", f"{fmt}: status {got['status']}")
    expect(got["service_code"] == args.service, f"{fmt}: service_code {got['service_code']}")
    expect(got["description"] == description, f"{fmt}: description {got['description']}")
    # The public place is the township: a village code is shown as its first 9 digits.
    township = args.address_id[:9] if len(args.address_id) == 12 else args.address_id
    expect(got["address_id"] == township, f"{fmt}: address_id {got['address_id']}")
    expect(got["requested_datetime"], f"{fmt}: no requested_datetime")
    flat = json.dumps(got, ensure_ascii=False)
    for k, v in PERSONAL.items():
        expect(v not in flat, f"{fmt}: GET shows the petitioner's {k}")

    by_id = as_list(client.get_service_requests(service_request_id=rid))
    expect([r["service_request_id"] for r in by_id] == [rid], f"{fmt}: by id {by_id}")
    listed = as_list(client.get_service_requests(service_code=args.service, status="open"))
    expect(rid in [r["service_request_id"] for r in listed], f"{fmt}: {rid} not in open list")
    if fmt == "json":
        closed = client.get_service_requests(service_code=args.service, status="closed")
    else:
        # georeport cannot read an empty XML list (xmltodict yields None for
        # <service_requests></service_requests>): read this one with the stdlib.
        q = urllib.parse.urlencode({"service_code": args.service, "status": "closed"})
        status, _, raw = http("GET", f"{base}/requests.xml?{q}")
        expect(status == 200, f"xml: closed list status {status}")
        closed = parse("xml", raw, "request")
    expect(rid not in [r["service_request_id"] for r in closed], f"{fmt}: {rid} in closed list")

    if token:
        status, _, raw = http("GET", f"{base}/tokens/{urllib.parse.quote(token)}.{fmt}")
        expect(status == 200, f"{fmt}: token status {status}")
        items = parse(fmt, raw, "request")
        expect(items and items[0]["service_request_id"] == rid, f"{fmt}: token {items}")

    try:
        client.get_service_request("000000-0000-000000")
        raise Mismatch(f"{fmt}: unknown request answered 200")
    except requests.HTTPError as e:
        expect(e.response.status_code == 404, f"{fmt}: unknown request {e.response.status_code}")

    # A request in a category that is not public: registered, never shown.
    status, created = post(base, fmt, {**form, "api_key": args.api_key,
                                       "service_code": args.private_service,
                                       "description": f"承包地补偿款未发放（{fmt}）"})
    expect(status in (200, 201), f"{fmt}: private POST gave {status}: {created}")
    private = created[0]["service_request_id"]
    try:
        client.get_service_request(private)
        raise Mismatch(f"{fmt}: a private request answered 200")
    except requests.HTTPError as e:
        expect(e.response.status_code == 404, f"{fmt}: private request {e.response.status_code}")
    status, _, raw = http("GET", f"{base}/requests.{fmt}?" + urllib.parse.urlencode(
        {"service_request_id": f"{rid},{private}"}))
    expect(status == 200, f"{fmt}: list by ids status {status}")
    listed = [r["service_request_id"] for r in parse(fmt, raw, "request")]
    expect(listed == [rid], f"{fmt}: list by ids shows {listed}")
    return rid


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="…/open311/v2")
    ap.add_argument("--api-key", required=True)
    ap.add_argument("--address-id", required=True)
    ap.add_argument("--jurisdiction", default=None)
    ap.add_argument("--service", default="transport")
    ap.add_argument("--private-service", default="land")
    args = ap.parse_args()
    try:
        ids = [flow(args, fmt) for fmt in ("json", "xml")]
    except Mismatch as e:
        print(f"open311 flow: MISMATCH: {e}", file=sys.stderr)
        return 1
    except (requests.RequestException, KeyError, ValueError, ET.ParseError) as e:
        print(f"open311 flow: FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print(f"open311 flow: ok (json {ids[0]}, xml {ids[1]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

# A client site's callback endpoint, as gocept.linkchecker serves it: receives
# updateManyStates and answers xmlrpc_getAllLinks. Runs under Python 2 and 3.
# Prints "PORT n" when ready, then one JSON line per call received.
# usage: callback_receiver.py CLIENT_ID PASSWORD LINK...
from __future__ import print_function
import json
import sys
try:
    from SimpleXMLRPCServer import SimpleXMLRPCServer, SimpleXMLRPCRequestHandler
except ImportError:
    from xmlrpc.server import SimpleXMLRPCServer, SimpleXMLRPCRequestHandler


class Handler(SimpleXMLRPCRequestHandler):
    rpc_paths = ("/portal_linkchecker/database",)  # where gocept.linkchecker listens

cid, pw = sys.argv[1], sys.argv[2]
links = sys.argv[3:]


class Unauthorized(Exception):
    pass


def check(c, p):
    if c != cid or p != pw:
        raise Unauthorized("bad credentials")


def updateManyStates(c, p, states):
    check(c, p)
    for s in states:
        if len(s) != 3 or s[1] not in ("ok", "temporary unavailable", "unavailable", "unsupported protocol", "unknown"):
            raise ValueError("bad triple %r" % (s,))
        for v in s:
            if not v:
                raise ValueError("empty value in %r" % (s,))
    print(json.dumps({"method": "updateManyStates", "states": [list(s) for s in states]}))
    sys.stdout.flush()
    return None  # Zope answers <nil/>


def xmlrpc_getAllLinks(c, p):
    check(c, p)
    print(json.dumps({"method": "xmlrpc_getAllLinks"}))
    sys.stdout.flush()
    return links


server = SimpleXMLRPCServer(("127.0.0.1", 0), requestHandler=Handler, logRequests=False, allow_none=True)
server.register_function(updateManyStates)
server.register_function(xmlrpc_getAllLinks)
print("PORT %d" % server.server_address[1])
sys.stdout.flush()
server.serve_forever()

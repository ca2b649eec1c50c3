# Replays the call patterns of gocept.linkchecker (PROTOCOL.md section 6)
# against an LMS. Runs under Python 2 (xmlrpclib, as the real client) and
# Python 3 (xmlrpc.client). Exits non-zero on the first mismatch.
# usage: plone_client.py URL CLIENT_ID PASSWORD ADMIN_SECRET
from __future__ import print_function
import sys
try:
    import xmlrpclib as x
except ImportError:
    import xmlrpc.client as x

url, cid, pw, secret = sys.argv[1:5]
s = x.ServerProxy(url)


def expect(got, want, what):
    if got != want:
        print("MISMATCH %s: got %r, want %r" % (what, got, want))
        sys.exit(1)


# Opening the control panel.
expect(s.checkConnection(cid, pw), 2, "checkConnection")
expect(s.checkConnection(cid, pw), 2, "checkConnection again")
expect(s.getClientNotifications(cid, pw), True, "getClientNotifications")

# Saving a document: all its links, junk included.
expect(s.checkConnection(cid, pw), 2, "checkConnection before save")
links = ["http://new.example/page", "http://checked.example/", "mailto:someone@example.org",
         "javascript:void(0)", "../relative/junk", "http://checked.example/", "",
         u"http://ex.example/\u00fcber", "http://CHECKED.example/", "has space:x"]
got = s.registerURLs(cid, pw, links)
expect([list(t) for t in got], [["http://checked.example/", "ok", "OK"], ["http://checked.example/", "ok", "OK"]],
       "registerURLs result")
expect(s.registerURLs(cid, pw, []), [], "registerURLs empty")

# Wrong credentials: HTTP 401, a ProtocolError, not a fault.
try:
    s.checkConnection(cid, pw + "x")
    print("MISMATCH wrong password accepted")
    sys.exit(1)
except x.ProtocolError as e:
    expect(e.errcode, 401, "errcode for a wrong password")
try:
    s.registerURLs("nobody", pw, ["http://x.example/"])
    print("MISMATCH unknown client accepted")
    sys.exit(1)
except x.ProtocolError as e:
    expect(e.errcode, 401, "errcode for an unknown client")

# The Synchronize button and the settings form.
expect(s.checkConnection(cid, pw), 2, "checkConnection before sync")
expect(s.forceSynchronization(cid, pw), None, "forceSynchronization")
expect(s.setClientNotifications(cid, pw, False), None, "setClientNotifications(False)")
expect(s.getClientNotifications(cid, pw), False, "notifications off")
expect(s.setClientNotifications(cid, pw, True), None, "setClientNotifications(True)")
expect(s.getClientNotifications(cid, pw), True, "notifications on")

info = s.getInfoFrameURL(cid, pw)
expect(info.endswith("/alerts"), True, "getInfoFrameURL")
expect(s.unregisterURLs(cid, pw, ["http://new.example/page", "http://never.example/"]), True, "unregisterURLs")

# Management.
try:
    s.registerClient("wrong", "other", "http://other.example/db", "Other", "other@example.org")
    print("MISMATCH wrong admin secret accepted")
    sys.exit(1)
except x.ProtocolError as e:
    expect(e.errcode, 401, "errcode for a wrong admin secret")
expect(s.registerClient(secret, "other", "http://other.example/portal_linkchecker/database", "Other Site", "other@example.org"),
       True, "registerClient")

# Faults.
try:
    s.noSuchMethod(cid, pw)
    print("MISMATCH unknown method accepted")
    sys.exit(1)
except x.Fault as f:
    expect(f.faultCode, -32601, "fault code of an unknown method")
try:
    s.registerURLs(cid, pw, "not a list")
    print("MISMATCH wrong argument type accepted")
    sys.exit(1)
except x.Fault as f:
    expect(f.faultCode, -32602, "fault code of a wrong argument type")

# Introspection and multicall.
methods = s.system.listMethods()
for m in ["checkConnection", "registerURLs", "unregisterURLs", "getClientNotifications", "setClientNotifications",
          "forceSynchronization", "getInfoFrameURL", "registerClient", "system.multicall"]:
    expect(m in methods, True, "listMethods has " + m)
mc = x.MultiCall(s)
mc.checkConnection(cid, pw)
mc.getClientNotifications(cid, pw)
res = list(mc())
expect(res, [2, True], "multicall")

states = s.getURLStates(cid, pw, ["http://checked.example/"])
expect(states[0]["state"], "ok", "getURLStates state")
expect(states[0]["code"], 200, "getURLStates code")
print("OK")

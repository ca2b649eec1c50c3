# A client's link database for the callback tests: serves
# xmlrpc_getAllLinks over XML-RPC on 127.0.0.1 with every string untyped
# (<value>text</value>, a string by the XML-RPC specification), as an
# independent peer. Client id "small" gets a short list with junk, "big"
# gets N more links (N from the command line). maxConcurrent() answers the
# most xmlrpc_getAllLinks calls that ran at once.
# usage: links_server.py PASSWORD N; prints the port, serves until stdin closes
import sys
import threading
import time
import xmlrpc.client
import xmlrpc.server
import socketserver

password, n = sys.argv[1], int(sys.argv[2])


def dump_untyped(self, value, write, escape=xmlrpc.client.escape):
    write("<value>")
    write(escape(value))
    write("</value>\n")


xmlrpc.client.Marshaller.dispatch[str] = dump_untyped

lock = threading.Lock()
state = {"now": 0, "max": 0}
small = ["http://a.example/page", " http://spaced.example/ ", "http://a.example/page",
         "http://ex.example/\u00fcber", "", 42, ["nested", 1], "junk &<>"]


def get_all_links(cid, pw):
    if pw != password:
        raise Exception("unauthorized")
    with lock:
        state["now"] += 1
        state["max"] = max(state["max"], state["now"])
    try:
        time.sleep(0.2)  # concurrent calls overlap
        if cid == "big":
            return small + ["http://host-%06d.example.org/some/page/%06d.html" % (i % 1000, i) for i in range(n)]
        return small
    finally:
        with lock:
            state["now"] -= 1


class Server(socketserver.ThreadingMixIn, xmlrpc.server.SimpleXMLRPCServer):
    daemon_threads = True


srv = Server(("127.0.0.1", 0), logRequests=False, allow_none=True)
srv.register_function(get_all_links, "xmlrpc_getAllLinks")
srv.register_function(lambda: state["max"], "maxConcurrent")
print(srv.server_address[1], flush=True)
threading.Thread(target=srv.serve_forever, daemon=True).start()
sys.stdin.read()

// Command xlblab builds xlb's network-namespace lab and plays in it: `serve`
// is the real servers' HTTP server, `client` the client that counts who
// answered, and `demo` the whole show that `make demo` runs — lab, servers,
// xlbd, traffic, a weight change, more traffic, teardown.
//
//	xlblab demo --xlbd bin/xlbd --xlbctl bin/xlbctl --config testdata/demo/keepalived.conf
//	xlblab serve --name r1 --listen :80          (run inside a real's namespace)
//	xlblab client --url http://198.18.0.100/ --count 1200 --out json
//
// demo needs root; it exits 1 when a share is more than 4 standard
// deviations off its weight, a real saw another client address than the
// client's own, or the drained real got a connection. Ctrl-C tears the lab
// down (processes by PID, then namespaces) before exiting.
package main

// Package api is the schema of xlbd's HTTP+JSON API and a client for it.
//
// xlbd serves the API on a unix socket (default /run/xlb/xlbd.sock, mode
// 0600): only root, or whoever the operator gives the socket to, may
// change weights. Every body is JSON; every error is
// {"error": "message"} with a 4xx status for a bad request (the message
// names the field) and 5xx when the daemon could not carry it out.
//
// Endpoints:
//
//	GET  /v1/services   → Services
//	GET  /v1/reasons    → Reasons
//	GET  /v1/explain?service=VIP:PORT/PROTO&client=IP:PORT → Explanation
//	PUT  /v1/weight     WeightRequest → WeightResponse, once the maps are written
//
// Fields are only ever added to these types, never renamed, so scripts
// that read `xlbctl services -o json` keep working.
package api

// Package failover measures VRRP failover from a client's point of view:
// in a lab with two load balancers (see e2e/lab), the master is killed
// with SIGKILL and the benchmark times how long until the client's
// requests to the VIP are answered again, for a pair of xlbd and for a
// pair of keepalived (with xlbd as the data plane beside it, so only the
// VRRP speaker differs) at equal advert_int. It holds only a benchmark;
// it needs root, as CI has.
package failover

// Package vrrp runs VRRP virtual routers: an Instance is one RFC 5798 §6.4
// state machine (Initialize, Backup, Master, and keepalived's Fault), and a
// SyncGroup moves several instances between those states together.
//
// The package is logic only. It sends advertisements, takes and releases the
// virtual addresses and reports state changes through the Sender, Addresser
// and Notifier interfaces that its caller implements; received advertisements
// and tracked objects' changes come in through Instance methods. Time comes
// from a Clock, so tests run in fake time. Where keepalived goes beyond the
// RFCs (Fault, tracking weights, preempt_delay, sync groups, the advert a
// master answers a lower priority one with) the package follows keepalived,
// since xlb replaces it on the same networks.
package vrrp

// Package track watches the objects a VRRP instance tracks — keepalived's
// vrrp_script, track_interface, track_file and vrrp_track_process — and
// turns their changes into Events.
//
// The package only observes: what an object's state does to an instance
// (a weight, FAULT, reverse) is the vrrp package's rule, applied by its
// caller when it feeds the events to vrrp.Instance.SetTracked. A Watcher
// owns every watcher goroutine and keeps a Status snapshot for xlbctl.
package track
